// SPDX-License-Identifier: LGPL-2.1-or-later
/* greeter_json_print: integers exact, everything else as cJSON prints it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_print.h"

static void expect_printed(const char *in, const char *want)
{
	cJSON *obj = cJSON_Parse(in);
	char *text;

	assert_non_null(obj);
	text = greeter_json_print(obj);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
	cJSON_Delete(obj);
}

static void test_large_integers_stay_integers(void **state)
{
	/* cJSON alone writes this one as 1.79553597761169e+15. */
	expect_printed("{\"t\":1795535977611690}", "{\"t\":1795535977611690}");
	expect_printed("{\"a\":[4294967295,0,-7]}", "{\"a\":[4294967295,0,-7]}");
	expect_printed("{\"n\":{\"max\":9007199254740992}}", "{\"n\":{\"max\":9007199254740992}}");
	/* Past 2^53: the double's exact value, which reads back the same (fuzzing). */
	expect_printed("[184840737073709551]", "[184840737073709536]");
}

static void test_other_values_unchanged(void **state)
{
	expect_printed("[0.1]", "[0.10000000000000001]");
	expect_printed("{\"f\":0.5,\"s\":\"1e3\",\"b\":true,\"z\":null}",
		       "{\"f\":0.5,\"s\":\"1e3\",\"b\":true,\"z\":null}");
	expect_printed("[]", "[]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_integers_stay_integers),
		cmocka_unit_test(test_other_values_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
