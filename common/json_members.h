/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An object's members by name: one loop for every reader of outside JSON. */
#ifndef GREETER_JSON_MEMBERS_H
#define GREETER_JSON_MEMBERS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The members of obj named names[0..n-1], each into out[i] (NULL when
 * absent). A name given twice is refused (what did the writer mean?), and
 * so is a member not named unless unknown_ok (room for additions that this
 * version may ignore). Returns 0, -EEXIST (repeated) or -ENOENT (unknown),
 * with *bad the member's name; -EINVAL if obj is not an object.
 */
int json_members(const cJSON *obj, const char *const *names, size_t n, const cJSON **out,
		 bool unknown_ok, const char **bad);

#endif
