/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Values checked against the interface definition and read into a struct,
 * and structs written as JSON, by tables made from the IDL at build time
 * (varlink_idl_gen.py): a call's parameters before the method runs, its
 * reply, the named types. A parameter or a reply field is added in the IDL
 * and in the method that reads or fills it, nowhere else. As systemd's
 * sd_varlink_dispatch() with its sd_json_dispatch_field tables does.
 */
#ifndef GREETER_VARLINK_IDL_H
#define GREETER_VARLINK_IDL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Fields a struct read by varlink_idl_dispatch() may have (the generator checks). */
#define VARLINK_IDL_FIELDS_MAX 16

enum varlink_idl_kind {
	VARLINK_IDL_BOOL, /* bool */
	VARLINK_IDL_INT, /* int64_t: an integer a double holds exactly (|n| <= 2^53) */
	VARLINK_IDL_FLOAT, /* double */
	VARLINK_IDL_STRING, /* const char *: a string, or an enum's value */
	VARLINK_IDL_ANY, /* const cJSON *: an object; in parameters a named type, read by the method */
	VARLINK_IDL_STRUCT, /* a named struct type in a reply or type: its struct (type) */
};

struct varlink_idl_field {
	const char *name;
	enum varlink_idl_kind kind; /* of the value, or of each element of an array */
	/*
	 * []kind. In parameters, given to the method as the JSON array; in
	 * replies and types, a C array of elements with its size_t count.
	 */
	bool array;
	bool nullable; /* ?type: may be absent or null */
	size_t offset; /* of the value in the struct */
	size_t has_offset; /* of its bool has_<name> (nullable scalars), else SIZE_MAX */
	size_t count_offset; /* of its size_t n_<name> (arrays in replies, types), else SIZE_MAX */
	/* VARLINK_IDL_STRUCT: the type's table; held embedded, or by pointer when nullable. */
	const struct varlink_idl_struct *type;
};

/* A method's parameters, its reply, or a named struct type. */
struct varlink_idl_struct {
	const struct varlink_idl_field *fields;
	size_t n_fields;
	size_t size; /* of its C struct */
};

struct varlink_idl_method {
	const char *name;
	struct varlink_idl_struct parameters;
	struct varlink_idl_struct reply;
	bool requires_more; /* "[Requires 'more' flag]" */
};

/*
 * Check json (an object, or NULL for none) against t: no unknown or
 * repeated name, every field not marked ? present and not null, each of
 * its type (an array's elements too, when scalars). Fill out, t's struct
 * of t->size bytes, in t's order, up to the first field at fault
 * (absent: 0, NULL, has_ false; strings and JSON point into json).
 * Returns 0; -ENOENT (unknown) or -EEXIST (repeated) with *bad the
 * member's name; -EINVAL with *bad the name of the field at fault, or
 * NULL when json is not an object.
 */
int varlink_idl_dispatch(const struct varlink_idl_struct *t, const cJSON *json, void *out,
			 const char **bad);

/*
 * t's struct at in, as a JSON object: fields in t's order, the absent
 * nullable ones left out (has_ false, a NULL pointer), JSON values copied.
 * NULL when out of memory, or when a field not marked ? is a NULL string
 * or JSON value.
 */
cJSON *varlink_idl_build(const struct varlink_idl_struct *t, const void *in);

#endif
