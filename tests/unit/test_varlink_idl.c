// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * varlink_idl_gen.py and varlink_idl_dispatch(): a call checked against the
 * IDL (names, types, optional) and read into the method's struct.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io.test.varlink.h"

/* Dispatch text as Mixed's parameters; *bad is "" unless one is named. */
static int mixed(const char *text, struct io_test_mixed_params *in, const char **bad, cJSON **p)
{
	*p = cJSON_Parse(text);
	assert_non_null(*p);
	*bad = "";
	return varlink_idl_dispatch(&io_test_mixed_idl, *p, in, bad);
}

static void expect_bad(const char *text, const char *name)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	assert_int_equal(mixed(text, &in, &bad, &p), -EINVAL);
	assert_string_equal(bad, name);
	cJSON_Delete(p);
}

static void test_names(void **state)
{
	assert_string_equal(IO_TEST_INTERFACE, "io.test");
	assert_string_equal(IO_TEST_MIXED, "io.test.Mixed");
	assert_string_equal(IO_TEST_ERROR_OOPS, "io.test.Oops");
	assert_string_equal(io_test_stream_idl.name, IO_TEST_STREAM);
	assert_true(io_test_stream_idl.requires_more);
	assert_false(io_test_mixed_idl.requires_more);
	/* The text served is the file's, comments included. */
	assert_non_null(strstr(io_test_description, "# [Requires 'more' flag]\nmethod Stream"));
}

static void test_filled(void **state)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	assert_int_equal(mixed("{\"i\":-5,\"oi\":9007199254740991,\"s\":\"x\",\"os\":\"y\","
			       "\"b\":false,\"f\":0.5,\"list\":[\"a\",\"\"],"
			       "\"things\":[{\"a\":1},7],\"thing\":{\"a\":2}}",
			       &in, &bad, &p),
			 0);
	assert_int_equal(in.i, -5);
	assert_true(in.has_oi);
	assert_int_equal(in.oi, 9007199254740991LL);
	assert_string_equal(in.s, "x");
	assert_string_equal(in.os, "y");
	assert_true(in.has_b);
	assert_false(in.b);
	assert_true(in.has_f);
	assert_true(in.f == 0.5);
	assert_int_equal(cJSON_GetArraySize(in.list), 2);
	/* Named types reach the method as JSON, its elements unchecked: it says which is wrong. */
	assert_int_equal(cJSON_GetArraySize(in.things), 2);
	assert_true(cJSON_IsObject(in.thing));
	cJSON_Delete(p);
}

static void test_optional(void **state)
{
	struct io_test_mixed_params in;
	const char *bad;
	cJSON *p;

	memset(&in, 0x55, sizeof(in));
	assert_int_equal(mixed("{\"i\":0,\"s\":\"\",\"oi\":null,\"os\":null,\"list\":null}", &in,
			       &bad, &p),
			 0);
	assert_false(in.has_oi);
	assert_null(in.os);
	assert_false(in.has_b);
	assert_null(in.list);
	assert_null(in.things);
	cJSON_Delete(p);
	/* No parameters at all: a method that takes none. */
	assert_int_equal(varlink_idl_dispatch(&io_test_nothing_idl, NULL, &in, &bad), 0);
}

static void test_refused(void **state)
{
	expect_bad("{\"s\":\"x\"}", "i"); /* missing */
	expect_bad("{\"i\":null,\"s\":\"x\"}", "i"); /* null where not ? */
	expect_bad("{\"i\":1.5,\"s\":\"x\"}", "i");
	expect_bad("{\"i\":9007199254740992,\"s\":\"x\"}", "i"); /* past exact */
	expect_bad("{\"i\":1e999,\"s\":\"x\"}", "i");
	expect_bad("{\"i\":\"1\",\"s\":\"x\"}", "i");
	expect_bad("{\"i\":1,\"s\":1}", "s");
	expect_bad("{\"i\":1,\"s\":\"x\",\"b\":1}", "b");
	expect_bad("{\"i\":1,\"s\":\"x\",\"f\":\"0\"}", "f");
	expect_bad("{\"i\":1,\"s\":\"x\",\"list\":\"a\"}", "list");
	expect_bad("{\"i\":1,\"s\":\"x\",\"list\":[\"a\",1]}", "list");
	expect_bad("{\"i\":1,\"s\":\"x\",\"things\":{}}", "things");
	expect_bad("{\"i\":1,\"s\":\"x\",\"extra\":1}", "extra"); /* unknown */
	expect_bad("{\"i\":1,\"s\":\"x\",\"i\":2}", "i"); /* repeated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_filled),
		cmocka_unit_test(test_optional),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
