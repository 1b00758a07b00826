// SPDX-License-Identifier: LGPL-2.1-or-later
#include "json_print.h"

#include <math.h>
#include <stdio.h>

#define JSON_EXACT_INT 9007199254740992.0 /* 2^53 */

static void integers_to_raw(cJSON *parent)
{
	cJSON *item = parent->child;

	while (item) {
		cJSON *next = item->next;

		if (cJSON_IsNumber(item) && isfinite(item->valuedouble) &&
		    fabs(item->valuedouble) <= JSON_EXACT_INT &&
		    floor(item->valuedouble) == item->valuedouble) {
			char text[32];
			cJSON *raw;

			snprintf(text, sizeof(text), "%.0f", item->valuedouble);
			raw = cJSON_CreateRaw(text);
			if (raw) {
				/* The key moves over: replacing by pointer keeps no name. */
				raw->string = item->string;
				raw->type |= item->type & cJSON_StringIsConst;
				item->string = NULL;
				cJSON_ReplaceItemViaPointer(parent, item, raw);
			}
		} else if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
			integers_to_raw(item);
		}
		item = next;
	}
}

char *greeter_json_print(const cJSON *obj)
{
	cJSON *copy = cJSON_Duplicate(obj, 1);
	char *text;

	if (!copy)
		return NULL;
	integers_to_raw(copy);
	text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return text;
}
