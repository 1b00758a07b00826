/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A call's parameters checked against the interface definition and read
 * into a struct, before the method runs: the tables come from the IDL at
 * build time (varlink_idl_gen.py), so a parameter is added in the IDL and
 * in the method that reads it, nowhere else. As systemd's
 * sd_varlink_dispatch() with its sd_json_dispatch_field tables does.
 */
#ifndef GREETER_VARLINK_IDL_H
#define GREETER_VARLINK_IDL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

enum varlink_idl_kind {
	VARLINK_IDL_BOOL, /* bool */
	VARLINK_IDL_INT, /* int64_t: an integer a double holds exactly (|n| <= 2^53) */
	VARLINK_IDL_FLOAT, /* double */
	VARLINK_IDL_STRING, /* const char *, valid during the call */
	VARLINK_IDL_ANY, /* const cJSON *: a named type, or object; the method reads it */
};

struct varlink_idl_field {
	const char *name;
	enum varlink_idl_kind kind; /* of the value, or of each element of an array */
	bool array; /* []kind: given to the method as the JSON array */
	bool nullable; /* ?type: may be absent or null */
	size_t offset; /* of the value in the method's struct */
	size_t has_offset; /* of its bool has_<name> (nullable scalars), else SIZE_MAX */
};

struct varlink_idl_method {
	const char *name;
	const struct varlink_idl_field *fields;
	size_t n_fields;
	size_t params_size; /* of the method's struct */
	bool requires_more; /* "[Requires 'more' flag]" */
};

/*
 * Check parameters (an object, or NULL for none) against m: no unknown or
 * repeated name, every parameter not marked ? present and not null, each
 * of its type (an array's elements too, when scalars). Fill out, the
 * method's struct of m->params_size bytes (absent: 0, NULL, has_ false;
 * strings and JSON point into parameters). Returns 0, or -EINVAL
 * with *bad the name of the first parameter at fault.
 */
int varlink_idl_dispatch(const struct varlink_idl_method *m, const cJSON *parameters, void *out,
			 const char **bad);

#endif
