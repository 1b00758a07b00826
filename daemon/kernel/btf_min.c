// SPDX-License-Identifier: LGPL-2.1-or-later
#include "btf_min.h"

#include <bpf/btf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Embedded types nest this deep at most in any kernel; deeper means a loop. */
#define MAX_DEPTH 64

struct copier {
	const struct btf *src;
	struct btf *dst;
	__u32 *copied; /* src ID -> dst ID, 0: not yet */
	__u32 *fwd; /* src ID -> dst ID of its forward declaration */
	char *err;
	size_t err_size;
};

static int copy_type(struct copier *c, __u32 id, int depth);

/* libbpf's "essential" name: "task_struct___v2" matches "task_struct". */
static size_t essential_len(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = n >= 5 ? n - 5 + 1 : 0; i-- > 0;) {
		if (name[i] != '_' && strncmp(name + i + 1, "___", 3) == 0 && name[i + 4] != '_')
			return i + 1;
	}
	return n;
}

static __u32 skip_mods_and_typedefs(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	return t ? id : 0;
}

/* A pointer keeps its kind; what it points to is not followed. */
static int copy_pointer(struct copier *c, const struct btf_type *t, int depth)
{
	__u32 to_id = skip_mods_and_typedefs(c->src, t->type);
	const struct btf_type *to = btf__type_by_id(c->src, to_id);
	int target;

	if (to_id == 0 || btf_is_func_proto(to)) {
		target = 0;
	} else if (btf_is_composite(to) || btf_is_fwd(to)) {
		const char *name = btf__name_by_offset(c->src, to->name_off);
		bool is_union = btf_is_union(to) || (btf_is_fwd(to) && btf_kflag(to));

		if (!name || !*name)
			target = 0;
		else if (c->fwd[to_id])
			target = (int)c->fwd[to_id];
		else
			target = btf__add_fwd(c->dst, name, is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT);
		if (target > 0)
			c->fwd[to_id] = (__u32)target;
	} else {
		target = copy_type(c, t->type, depth + 1);
	}
	if (target < 0)
		return target;
	return btf__add_ptr(c->dst, target);
}

static int copy_composite(struct copier *c, const struct btf_type *t, int depth)
{
	const struct btf_member *m = btf_members(t);
	__u16 n = btf_vlen(t);
	int *ids = calloc(n ? n : 1, sizeof(*ids));
	const char *name = btf__name_by_offset(c->src, t->name_off);
	int id;

	if (!ids)
		return -ENOMEM;
	/* Member types first: a struct's fields must follow it directly. */
	for (__u16 i = 0; i < n; i++) {
		ids[i] = copy_type(c, m[i].type, depth + 1);
		if (ids[i] < 0) {
			id = ids[i];
			goto out;
		}
	}
	id = btf_is_union(t) ? btf__add_union(c->dst, name, t->size) :
			       btf__add_struct(c->dst, name, t->size);
	for (__u16 i = 0; id >= 0 && i < n; i++) {
		int r = btf__add_field(c->dst, btf__name_by_offset(c->src, m[i].name_off), ids[i],
				       btf_member_bit_offset(t, i), btf_member_bitfield_size(t, i));
		if (r < 0)
			id = r;
	}
out:
	free(ids);
	return id;
}

static int copy_type(struct copier *c, __u32 id, int depth)
{
	const struct btf_type *t;
	int r, inner, index;

	if (id == 0)
		return 0;
	if (c->copied[id])
		return (int)c->copied[id];
	if (depth > MAX_DEPTH) {
		snprintf(c->err, c->err_size, "type [%u] nests more than %d deep", id, MAX_DEPTH);
		return -ELOOP;
	}
	t = btf__type_by_id(c->src, id);
	if (!t)
		return -EINVAL;

	switch (btf_kind(t)) {
	case BTF_KIND_INT:
	case BTF_KIND_FLOAT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		/* No type references: copied as they are. */
		r = btf__add_type(c->dst, c->src, t);
		break;
	case BTF_KIND_PTR:
		r = copy_pointer(c, t, depth);
		break;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);

		inner = copy_type(c, a->type, depth + 1);
		index = inner < 0 ? inner : copy_type(c, a->index_type, depth + 1);
		r = index < 0 ? index : btf__add_array(c->dst, index, inner, a->nelems);
		break;
	}
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		r = copy_composite(c, t, depth);
		break;
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		inner = copy_type(c, t->type, depth + 1);
		if (inner < 0)
			return inner;
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
			r = btf__add_typedef(c->dst, btf__name_by_offset(c->src, t->name_off), inner);
			break;
		case BTF_KIND_CONST:
			r = btf__add_const(c->dst, inner);
			break;
		case BTF_KIND_VOLATILE:
			r = btf__add_volatile(c->dst, inner);
			break;
		case BTF_KIND_RESTRICT:
			r = btf__add_restrict(c->dst, inner);
			break;
		default:
			r = btf__add_type_tag(c->dst, btf__name_by_offset(c->src, t->name_off),
					      inner);
			break;
		}
		break;
	default:
		/* Functions, variables, sections: never part of a data layout. */
		snprintf(c->err, c->err_size, "type [%u] is of kind %u, not a data type", id,
			 btf_kind(t));
		return -EINVAL;
	}
	if (r < 0) {
		if (!*c->err)
			snprintf(c->err, c->err_size, "cannot copy type [%u]: %s", id,
				 strerror(-r));
		return r;
	}
	c->copied[id] = (__u32)r;
	return r;
}

static bool root_kind(const struct btf_type *t)
{
	return btf_is_composite(t) || btf_is_any_enum(t) || btf_is_typedef(t);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
	for (size_t i = 0; names && i < count; i++)
		free(names[i]);
	free(names);
}

/* The essential names of local's candidate root types, sorted. */
static char **local_roots(const struct btf *local, size_t *count)
{
	__u32 n = btf__type_cnt(local);
	char **names = calloc(n, sizeof(*names));
	size_t k = 0;

	if (!names)
		return NULL;
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(local, id);
		const char *name = btf__name_by_offset(local, t->name_off);

		if (!root_kind(t) || !name || !*name)
			continue;
		names[k] = strndup(name, essential_len(name));
		if (!names[k]) {
			free_names(names, k);
			return NULL;
		}
		k++;
	}
	qsort(names, k, sizeof(*names), cmp_name);
	*count = k;
	return names;
}

static bool is_local_root(char **roots, size_t count, const char *name)
{
	char buf[256];
	size_t len = essential_len(name);
	const char *key = name;

	if (len != strlen(name)) {
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, name, len);
		buf[len] = '\0';
		key = buf;
	}
	return bsearch(&key, roots, count, sizeof(*roots), cmp_name) != NULL;
}

struct btf *btf_min_new(const struct btf *target, const struct btf *local, char *err,
			size_t err_size)
{
	struct copier c = { .src = target, .err = err, .err_size = err_size };
	__u32 n = btf__type_cnt(target);
	size_t root_count = 0;
	char **roots = NULL;
	int r = 0;

	err[0] = '\0';
	c.dst = btf__new_empty();
	c.copied = calloc(n, sizeof(*c.copied));
	c.fwd = calloc(n, sizeof(*c.fwd));
	roots = local_roots(local, &root_count);
	if (!c.dst || !c.copied || !c.fwd || !roots) {
		snprintf(err, err_size, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* Every same-named candidate, as libbpf weighs them all. */
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(target, id);
		const char *name;

		if (!root_kind(t) || !t->name_off)
			continue;
		name = btf__name_by_offset(target, t->name_off);
		if (!is_local_root(roots, root_count, name))
			continue;
		r = copy_type(&c, id, 0);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free_names(roots, root_count);
	free(c.copied);
	free(c.fwd);
	if (r < 0) {
		btf__free(c.dst);
		errno = -r;
		return NULL;
	}
	return c.dst;
}
