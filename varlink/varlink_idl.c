// SPDX-License-Identifier: LGPL-2.1-or-later
#include "varlink_idl.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json_members.h"

/* Parameters a method may have; the generator's tables stay below it. */
#define FIELDS_MAX 16
/* The largest integer a JSON number (a double) carries exactly. */
#define JSON_INT_MAX 9007199254740991.0

static bool of_kind(const cJSON *v, enum varlink_idl_kind kind)
{
	switch (kind) {
	case VARLINK_IDL_BOOL:
		return cJSON_IsBool(v);
	case VARLINK_IDL_INT:
		return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
		       floor(v->valuedouble) == v->valuedouble &&
		       fabs(v->valuedouble) <= JSON_INT_MAX;
	case VARLINK_IDL_FLOAT:
		return cJSON_IsNumber(v) && isfinite(v->valuedouble);
	case VARLINK_IDL_STRING:
		return cJSON_IsString(v);
	case VARLINK_IDL_ANY:
		return true;
	}
	return false;
}

static bool valid(const struct varlink_idl_field *f, const cJSON *v)
{
	const cJSON *item;

	if (!f->array)
		return of_kind(v, f->kind);
	if (!cJSON_IsArray(v))
		return false;
	cJSON_ArrayForEach (item, v)
		if (!of_kind(item, f->kind))
			return false;
	return true;
}

static void store(const struct varlink_idl_field *f, const cJSON *v, char *out)
{
	if (f->has_offset != SIZE_MAX)
		*(bool *)(out + f->has_offset) = true;
	if (f->array || f->kind == VARLINK_IDL_ANY) {
		*(const cJSON **)(out + f->offset) = v;
		return;
	}
	switch (f->kind) {
	case VARLINK_IDL_BOOL:
		*(bool *)(out + f->offset) = cJSON_IsTrue(v);
		break;
	case VARLINK_IDL_INT:
		*(int64_t *)(out + f->offset) = (int64_t)v->valuedouble;
		break;
	case VARLINK_IDL_FLOAT:
		*(double *)(out + f->offset) = v->valuedouble;
		break;
	case VARLINK_IDL_STRING:
		*(const char **)(out + f->offset) = v->valuestring;
		break;
	case VARLINK_IDL_ANY:
		break;
	}
}

int varlink_idl_dispatch(const struct varlink_idl_method *m, const cJSON *parameters, void *out,
			 const char **bad)
{
	const char *names[FIELDS_MAX] = { 0 };
	const cJSON *found[FIELDS_MAX] = { 0 };
	size_t n = m->n_fields < FIELDS_MAX ? m->n_fields : FIELDS_MAX;

	memset(out, 0, m->params_size);
	for (size_t i = 0; i < n; i++)
		names[i] = m->fields[i].name;
	if (parameters && json_members(parameters, names, n, found, false, bad) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct varlink_idl_field *f = &m->fields[i];
		const cJSON *v = parameters ? found[i] : NULL;

		if (!v || cJSON_IsNull(v)) {
			if (f->nullable)
				continue;
			*bad = f->name;
			return -EINVAL;
		}
		if (!valid(f, v)) {
			*bad = f->name;
			return -EINVAL;
		}
		store(f, v, out);
	}
	return 0;
}
