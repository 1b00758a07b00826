// SPDX-License-Identifier: LGPL-2.1-or-later
#include "json_print.h"

#include <math.h>
#include <stdio.h>

/*
 * Write every number so that it reads back as the same double: integral
 * values in full digits (%.0f is exact), others with 17 significant digits.
 * cJSON alone checks its 15-digit form with a tolerance, and loses digits.
 */
static void numbers_to_raw(cJSON *parent)
{
	cJSON *item = parent->child;

	while (item) {
		cJSON *next = item->next;

		if (cJSON_IsNumber(item) && isfinite(item->valuedouble)) {
			char text[400];
			cJSON *raw;
			double v = item->valuedouble;

			snprintf(text, sizeof(text), floor(v) == v && fabs(v) < 1e300 ? "%.0f" : "%.17g",
				 v);
			raw = cJSON_CreateRaw(text);
			if (raw) {
				/* The key moves over: replacing by pointer keeps no name. */
				raw->string = item->string;
				raw->type |= item->type & cJSON_StringIsConst;
				item->string = NULL;
				cJSON_ReplaceItemViaPointer(parent, item, raw);
			}
		} else if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
			numbers_to_raw(item);
		}
		item = next;
	}
}

char *greeter_json_print(const cJSON *obj)
{
	/* In a holder array, so that a bare number at the top is written exactly too. */
	cJSON *holder = cJSON_CreateArray(), *copy = cJSON_Duplicate(obj, 1);
	char *text = NULL;

	if (holder && copy && cJSON_AddItemToArray(holder, copy)) {
		copy = NULL;
		numbers_to_raw(holder);
		text = cJSON_PrintUnformatted(holder->child);
	}
	cJSON_Delete(copy);
	cJSON_Delete(holder);
	return text;
}
