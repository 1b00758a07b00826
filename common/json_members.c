// SPDX-License-Identifier: LGPL-2.1-or-later
#include "json_members.h"

#include <errno.h>
#include <string.h>

int json_members(const cJSON *obj, const char *const *names, size_t n, const cJSON **out,
		 bool unknown_ok, const char **bad)
{
	const cJSON *item;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (!cJSON_IsObject(obj))
		return -EINVAL;
	cJSON_ArrayForEach (item, obj) {
		size_t i = 0;

		while (i < n && strcmp(item->string, names[i]) != 0)
			i++;
		if (i == n && unknown_ok)
			continue;
		if (i == n || out[i]) {
			*bad = item->string;
			return i == n ? -ENOENT : -EEXIST;
		}
		out[i] = item;
	}
	return 0;
}
