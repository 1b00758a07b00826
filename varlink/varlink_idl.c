// SPDX-License-Identifier: LGPL-2.1-or-later
#include "varlink_idl.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json_members.h"

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
	case VARLINK_IDL_STRUCT:
		break;
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
	case VARLINK_IDL_STRUCT:
		break;
	}
}

int varlink_idl_dispatch(const struct varlink_idl_struct *t, const cJSON *json, void *out,
			 const char **bad)
{
	const char *names[VARLINK_IDL_FIELDS_MAX] = { 0 };
	const cJSON *found[VARLINK_IDL_FIELDS_MAX] = { 0 };
	size_t n = t->n_fields < VARLINK_IDL_FIELDS_MAX ? t->n_fields : VARLINK_IDL_FIELDS_MAX;
	int r;

	memset(out, 0, t->size);
	for (size_t i = 0; i < n; i++)
		names[i] = t->fields[i].name;
	if (json) {
		*bad = NULL;
		r = json_members(json, names, n, found, false, bad);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct varlink_idl_field *f = &t->fields[i];
		const cJSON *v = found[i];

		if (!v || cJSON_IsNull(v)) {
			if (f->nullable)
				continue;
			*bad = f->name;
			return -EINVAL;
		}
		/* C arrays and structs are written, not read: the generator reads none. */
		if (f->kind == VARLINK_IDL_STRUCT || f->count_offset != SIZE_MAX || !valid(f, v)) {
			*bad = f->name;
			return -EINVAL;
		}
		store(f, v, out);
	}
	return 0;
}

static size_t elem_size(const struct varlink_idl_field *f)
{
	switch (f->kind) {
	case VARLINK_IDL_BOOL:
		return sizeof(bool);
	case VARLINK_IDL_INT:
		return sizeof(int64_t);
	case VARLINK_IDL_FLOAT:
		return sizeof(double);
	case VARLINK_IDL_STRING:
		return sizeof(const char *);
	case VARLINK_IDL_ANY:
		return sizeof(const cJSON *);
	case VARLINK_IDL_STRUCT:
		return f->type->size;
	}
	return 0;
}

/* One value of f's kind at p (an element, or the field itself). */
static cJSON *value_json(const struct varlink_idl_field *f, const char *p)
{
	const char *s;
	const cJSON *j;

	switch (f->kind) {
	case VARLINK_IDL_BOOL:
		return cJSON_CreateBool(*(const bool *)p);
	case VARLINK_IDL_INT:
		return cJSON_CreateNumber((double)*(const int64_t *)p);
	case VARLINK_IDL_FLOAT:
		return cJSON_CreateNumber(*(const double *)p);
	case VARLINK_IDL_STRING:
		s = *(const char *const *)p;
		return s ? cJSON_CreateString(s) : NULL;
	case VARLINK_IDL_ANY:
		j = *(const cJSON *const *)p;
		return j ? cJSON_Duplicate(j, true) : NULL;
	case VARLINK_IDL_STRUCT:
		return varlink_idl_build(f->type, p);
	}
	return NULL;
}

static cJSON *array_json(const struct varlink_idl_field *f, const char *items, size_t count)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < count; i++) {
		cJSON *v = value_json(f, items + i * elem_size(f));

		if (!v || !cJSON_AddItemToArray(a, v)) {
			cJSON_Delete(v);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

/* The field's JSON; *absent when it is nullable and not there. */
static cJSON *field_json(const struct varlink_idl_field *f, const char *in, bool *absent)
{
	const char *p = in + f->offset;
	bool by_pointer = f->count_offset != SIZE_MAX || f->kind == VARLINK_IDL_STRING ||
			  f->kind == VARLINK_IDL_ANY || f->kind == VARLINK_IDL_STRUCT;

	if (f->nullable && f->has_offset != SIZE_MAX)
		*absent = !*(const bool *)(in + f->has_offset);
	else if (f->nullable && by_pointer)
		*absent = *(const void *const *)p == NULL;
	if (*absent)
		return NULL;
	if (f->count_offset != SIZE_MAX)
		return array_json(f, *(const char *const *)p,
				  *(const size_t *)(in + f->count_offset));
	/* An optional struct is held by pointer, a required one embedded. */
	if (f->kind == VARLINK_IDL_STRUCT && f->nullable)
		p = *(const char *const *)p;
	return value_json(f, p);
}

cJSON *varlink_idl_build(const struct varlink_idl_struct *t, const void *in)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < t->n_fields; i++) {
		const struct varlink_idl_field *f = &t->fields[i];
		bool absent = false;
		cJSON *v = field_json(f, in, &absent);

		if (absent)
			continue;
		/* The names are the tables', static: not copied. */
		if (!v || !cJSON_AddItemToObjectCS(o, f->name, v)) {
			cJSON_Delete(v);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}
