// SPDX-License-Identifier: LGPL-2.1-or-later
/* json_members: each named member found once; repeats and strangers refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_members.h"

static const char *const names[] = { "uid", "message" };

/* json_members() on text; *bad is "" unless it names a member. */
static int members(const char *text, bool unknown_ok, const cJSON **out, const char **bad,
		   cJSON **obj)
{
	*obj = cJSON_Parse(text);
	assert_non_null(*obj);
	*bad = "";
	return json_members(*obj, names, 2, out, unknown_ok, bad);
}

static void test_found(void **state)
{
	const cJSON *out[2];
	const char *bad;
	cJSON *obj;

	assert_int_equal(members("{\"message\":\"hi\",\"uid\":7}", false, out, &bad, &obj), 0);
	assert_int_equal(out[0]->valueint, 7);
	assert_string_equal(out[1]->valuestring, "hi");
	cJSON_Delete(obj);
	assert_int_equal(members("{\"message\":\"hi\"}", false, out, &bad, &obj), 0);
	assert_null(out[0]);
	assert_non_null(out[1]);
	cJSON_Delete(obj);
	assert_int_equal(members("{}", false, out, &bad, &obj), 0);
	assert_null(out[0]);
	assert_null(out[1]);
	cJSON_Delete(obj);
}

static void test_repeated(void **state)
{
	const cJSON *out[2];
	const char *bad;
	cJSON *obj;

	/* Whichever the reader would take, the writer may have meant the other. */
	assert_int_equal(members("{\"uid\":1,\"message\":\"a\",\"uid\":2}", true, out, &bad, &obj),
			 -EEXIST);
	assert_string_equal(bad, "uid");
	cJSON_Delete(obj);
}

static void test_unknown(void **state)
{
	const cJSON *out[2];
	const char *bad;
	cJSON *obj;

	assert_int_equal(members("{\"uid\":1,\"mesage\":\"a\"}", false, out, &bad, &obj), -ENOENT);
	assert_string_equal(bad, "mesage");
	cJSON_Delete(obj);
	/* Where additions are allowed, they are passed over. */
	assert_int_equal(members("{\"uid\":1,\"later\":[1],\"message\":\"a\"}", true, out, &bad, &obj),
			 0);
	assert_int_equal(out[0]->valueint, 1);
	assert_string_equal(out[1]->valuestring, "a");
	cJSON_Delete(obj);
	/* Nothing allowed: every member is a stranger. */
	obj = cJSON_Parse("{\"x\":1}");
	assert_int_equal(json_members(obj, names, 0, NULL, false, &bad), -ENOENT);
	assert_string_equal(bad, "x");
	cJSON_Delete(obj);
}

static void test_not_object(void **state)
{
	const cJSON *out[2];
	const char *bad = "";
	cJSON *arr = cJSON_Parse("[1]");

	assert_int_equal(json_members(arr, names, 2, out, true, &bad), -EINVAL);
	assert_null(out[0]);
	cJSON_Delete(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_not_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
