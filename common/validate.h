/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Checks on untrusted input: messages (from clients and the state file) and
 * UIDs given as text.
 */
#ifndef GREETER_VALIDATE_H
#define GREETER_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "greeter.h"

/*
 * Check that the len bytes at s are an acceptable message: 1 to
 * GREETER_MESSAGE_MAX bytes of strictly valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence) without C0
 * controls (this includes NUL), DEL or C1 controls (U+0080 to U+009F).
 *
 * Returns 0 if valid, -E2BIG if too long, -EINVAL otherwise; on error *why (if
 * why is not NULL) points to a static English reason.
 */
int greeter_validate_message(const char *s, size_t len, const char **why);

/*
 * Parse a UID written in decimal: digits only (no sign, no spaces, no "0x").
 * Leading zeros are accepted and mean nothing ("010" is 10, never octal), as
 * with chown(1). 4294967295 is GREETER_DEFAULT_UID, never a user.
 *
 * Returns 0 and sets *uid, -EINVAL if s is not a decimal number, -ERANGE if it
 * is above 4294967294. *uid is not touched on error.
 */
int greeter_parse_uid(const char *s, uint32_t *uid);

/*
 * Decode one strictly valid UTF-8 sequence from the len bytes at s. Returns
 * its length (1 to 4) and sets *cp, or 0 if the bytes at s do not start a
 * valid, complete sequence (or len is 0).
 */
size_t greeter_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif /* GREETER_VALIDATE_H */
