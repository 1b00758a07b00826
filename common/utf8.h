/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Make strings from the kernel fit for JSON, which must be valid UTF-8. */
#ifndef GREETER_UTF8_H
#define GREETER_UTF8_H

#include <stddef.h>

/* Bytes a sanitized copy of n input bytes may need, NUL included. */
#define GREETER_UTF8_SANITIZED_SIZE(n) ((n)*3 + 1)

/*
 * Copy in (up to in_len bytes or its first NUL) to out, replacing each byte
 * that does not start a valid UTF-8 sequence with U+FFFD. out is always
 * NUL-terminated when out_size > 0; a sequence is never split. Returns the
 * bytes written, NUL excluded.
 */
size_t greeter_utf8_sanitize(char *out, size_t out_size, const char *in, size_t in_len);

#endif
