/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The messages as a JSON document: the state file's contents and what
 * `greeterctl export` prints and `greeterctl import` reads.
 *
 *   {"version": 1, "messages": {"501": "Hi user 501!", "default": "Hello all"}}
 *
 * Keys are decimal UIDs, or "default" for GREETER_DEFAULT_UID; it is written
 * with keys sorted by UID and "default" last. Unknown top-level keys are
 * ignored.
 */
#ifndef GREETER_MESSAGES_JSON_H
#define GREETER_MESSAGES_JSON_H

#include <stddef.h>

#include "entries.h"

#define MESSAGES_JSON_VERSION 1
#define MESSAGES_JSON_MAX_SIZE (4u << 20)

/*
 * Parse the len bytes at data (no NUL needed) into out, which must be empty
 * (zero-initialised). All or nothing: on error out stays empty.
 *
 * Returns 0, -EBADMSG if the data is not a valid messages document (err says why;
 * hostile bytes in it are escaped), -ENOMEM.
 */
int messages_json_parse(const char *data, size_t len, struct greeter_entries *out, char *err,
			size_t err_size);

/*
 * Serialise entries (NULL means none) as the file's contents: *out is a
 * NUL-terminated, malloc'd buffer of *out_len bytes ending in a newline.
 *
 * Returns 0, -EINVAL if an entry holds an invalid message or a duplicated UID
 * (err says which), -ENOMEM.
 */
int messages_json_format(const struct greeter_entries *entries, char **out, size_t *out_len,
			 char *err, size_t err_size);

#endif
