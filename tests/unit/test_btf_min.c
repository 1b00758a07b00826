// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * btf_min: the cut-down kernel BTF keeps exactly the layout CO-RE reads, on
 * a hand-built "kernel" BTF. That libbpf relocates the real object the same
 * way with it as with the kernel's full BTF is checked on the real kernel by
 * integration-btf_cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "btf_min.h"

struct kernel {
	struct btf *btf;
	int u32, u64, ulong, charid;
};

/*
 * struct task_struct {            // 64 bytes
 *     int pid;                    // 0
 *     unsigned int flags:3;       // bit 32, a bit field
 *     struct task_struct *parent; // 8
 *     struct { u64 a; u32 b; } in;// 16, an anonymous embedded struct
 *     unsigned long args[4];      // 32
 * };
 * struct unused { u64 x; };       // not in the object: left out
 * typedef struct task_struct task_t;
 * enum state { RUNNING = 0, DEAD = 16 };
 */
static struct kernel make_kernel(void)
{
	struct kernel k = { .btf = btf__new_empty() };
	int in, ptr, arr, fwd_task;

	assert_non_null(k.btf);
	k.u32 = btf__add_int(k.btf, "unsigned int", 4, 0);
	k.u64 = btf__add_int(k.btf, "long long unsigned int", 8, 0);
	k.ulong = btf__add_int(k.btf, "long unsigned int", 8, 0);
	k.charid = btf__add_int(k.btf, "char", 1, BTF_INT_CHAR);
	int sint = btf__add_int(k.btf, "int", 4, BTF_INT_SIGNED);

	in = btf__add_struct(k.btf, NULL, 16);
	assert_int_equal(btf__add_field(k.btf, "a", k.u64, 0, 0), 0);
	assert_int_equal(btf__add_field(k.btf, "b", k.u32, 64, 0), 0);
	arr = btf__add_array(k.btf, k.u32, k.ulong, 4);
	fwd_task = btf__add_fwd(k.btf, "task_struct", BTF_FWD_STRUCT);
	ptr = btf__add_ptr(k.btf, fwd_task);
	assert_true(btf__add_struct(k.btf, "task_struct", 64) > 0);
	assert_int_equal(btf__add_field(k.btf, "pid", sint, 0, 0), 0);
	assert_int_equal(btf__add_field(k.btf, "flags", k.u32, 32, 3), 0);
	assert_int_equal(btf__add_field(k.btf, "parent", ptr, 64, 0), 0);
	assert_int_equal(btf__add_field(k.btf, "in", in, 128, 0), 0);
	assert_int_equal(btf__add_field(k.btf, "args", arr, 256, 0), 0);
	assert_true(btf__add_struct(k.btf, "unused", 8) > 0);
	assert_int_equal(btf__add_field(k.btf, "x", k.u64, 0, 0), 0);
	assert_true(btf__add_typedef(k.btf, "task_t",
				     btf__find_by_name_kind(k.btf, "task_struct", BTF_KIND_STRUCT)) > 0);
	assert_true(btf__add_enum(k.btf, "state", 4) > 0);
	assert_int_equal(btf__add_enum_value(k.btf, "RUNNING", 0), 0);
	assert_int_equal(btf__add_enum_value(k.btf, "DEAD", 16), 0);
	return k;
}

/* The object's own idea of the types: other layouts, flavours, a type the kernel lacks. */
static struct btf *make_local(void)
{
	struct btf *b = btf__new_empty();
	int u32;

	assert_non_null(b);
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	assert_true(btf__add_struct(b, "task_struct___old", 4) > 0);
	assert_int_equal(btf__add_field(b, "pid", u32, 0, 0), 0);
	assert_true(btf__add_struct(b, "not_in_kernel", 4) > 0);
	assert_int_equal(btf__add_field(b, "x", u32, 0, 0), 0);
	assert_true(btf__add_enum(b, "state", 4) > 0);
	assert_int_equal(btf__add_enum_value(b, "DEAD", 16), 0);
	return b;
}

static const struct btf_member *member(const struct btf *b, const struct btf_type *t,
				       const char *name, int *index)
{
	const struct btf_member *m = btf_members(t);

	for (int i = 0; i < btf_vlen(t); i++) {
		if (strcmp(btf__name_by_offset(b, m[i].name_off), name) == 0) {
			*index = i;
			return &m[i];
		}
	}
	fail_msg("member %s missing", name);
	return NULL;
}

static const struct btf_type *resolve(const struct btf *b, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(b, id);

	while (btf_is_mod(t) || btf_is_typedef(t))
		t = btf__type_by_id(b, t->type);
	return t;
}

static void test_keeps_layout(void **state)
{
	struct kernel k = make_kernel();
	struct btf *local = make_local();
	char err[256];
	struct btf *min = btf_min_new(k.btf, local, err, sizeof(err));
	const struct btf_type *task, *t;
	const struct btf_member *m;
	int id, i;

	(void)state;
	assert_non_null(min);
	id = btf__find_by_name_kind(min, "task_struct", BTF_KIND_STRUCT);
	assert_true(id > 0);
	task = btf__type_by_id(min, id);
	assert_int_equal(task->size, 64);
	assert_int_equal(btf_vlen(task), 5);

	m = member(min, task, "pid", &i);
	assert_int_equal(btf_member_bit_offset(task, i), 0);
	assert_true(btf_is_int(resolve(min, m->type)));
	assert_int_equal(btf_int_encoding(resolve(min, m->type)), BTF_INT_SIGNED);

	m = member(min, task, "flags", &i);
	assert_int_equal(btf_member_bit_offset(task, i), 32);
	assert_int_equal(btf_member_bitfield_size(task, i), 3);

	/* A pointer stays a pointer, to a forward declaration. */
	m = member(min, task, "parent", &i);
	assert_int_equal(btf_member_bit_offset(task, i), 64);
	t = btf__type_by_id(min, m->type);
	assert_true(btf_is_ptr(t));
	t = btf__type_by_id(min, t->type);
	assert_true(btf_is_fwd(t));
	assert_string_equal(btf__name_by_offset(min, t->name_off), "task_struct");

	/* Embedded types are whole: in.b is at byte 16 + 8. */
	m = member(min, task, "in", &i);
	assert_int_equal(btf_member_bit_offset(task, i), 128);
	t = btf__type_by_id(min, m->type);
	assert_true(btf_is_struct(t));
	assert_int_equal(t->size, 16);
	m = member(min, t, "b", &i);
	assert_int_equal(btf_member_bit_offset(t, i), 64);

	m = member(min, task, "args", &i);
	assert_int_equal(btf_member_bit_offset(task, i), 256);
	t = btf__type_by_id(min, m->type);
	assert_true(btf_is_array(t));
	assert_int_equal(btf_array(t)->nelems, 4);
	assert_int_equal(btf__resolve_size(min, m->type), 32);

	/* The enum, with its values. */
	id = btf__find_by_name_kind(min, "state", BTF_KIND_ENUM);
	assert_true(id > 0);
	t = btf__type_by_id(min, id);
	assert_int_equal(btf_vlen(t), 2);
	assert_int_equal(btf_enum(t)[1].val, 16);

	btf__free(min);
	btf__free(local);
	btf__free(k.btf);
}

static void test_leaves_out_what_the_object_does_not_name(void **state)
{
	struct kernel k = make_kernel();
	struct btf *local = make_local();
	char err[256];
	struct btf *min = btf_min_new(k.btf, local, err, sizeof(err));

	(void)state;
	assert_non_null(min);
	assert_true(btf__find_by_name_kind(min, "unused", BTF_KIND_STRUCT) < 0);
	/* The object has no task_t: typedefs are roots only when named. */
	assert_true(btf__find_by_name_kind(min, "task_t", BTF_KIND_TYPEDEF) < 0);
	assert_true(btf__find_by_name_kind(min, "not_in_kernel", BTF_KIND_STRUCT) < 0);
	/* Far smaller than what it was cut from, and valid BTF once written out. */
	assert_true(btf__type_cnt(min) < btf__type_cnt(k.btf));
	{
		__u32 size;
		const void *raw = btf__raw_data(min, &size);
		struct btf *back;

		assert_non_null(raw);
		back = btf__new(raw, size);
		assert_non_null(back);
		assert_int_equal(btf__type_cnt(back), btf__type_cnt(min));
		btf__free(back);
	}
	btf__free(min);
	btf__free(local);
	btf__free(k.btf);
}

/* Two kernel types of one name (two compilation units): both kept, as libbpf weighs both. */
static void test_keeps_every_candidate(void **state)
{
	struct kernel k = make_kernel();
	struct btf *local = make_local();
	char err[256];
	struct btf *min;
	int n = 0;

	(void)state;
	assert_true(btf__add_struct(k.btf, "task_struct", 4) > 0);
	assert_int_equal(btf__add_field(k.btf, "pid", k.u32, 0, 0), 0);
	min = btf_min_new(k.btf, local, err, sizeof(err));
	assert_non_null(min);
	for (__u32 id = 1; id < btf__type_cnt(min); id++) {
		const struct btf_type *t = btf__type_by_id(min, id);

		n += btf_is_struct(t) &&
		     strcmp(btf__name_by_offset(min, t->name_off), "task_struct") == 0;
	}
	assert_int_equal(n, 2);
	btf__free(min);
	btf__free(local);
	btf__free(k.btf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeps_layout),
		cmocka_unit_test(test_leaves_out_what_the_object_does_not_name),
		cmocka_unit_test(test_keeps_every_candidate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
