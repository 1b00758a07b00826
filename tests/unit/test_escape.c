// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"
#include "validate.h"

#define LIT(s) (s), (sizeof(s) - 1)

static void assert_escape(const char *in, size_t in_len, const char *expected)
{
	char out[512];
	size_t n;

	memset(out, 'Z', sizeof(out));
	n = greeter_escape(out, sizeof(out), in, in_len);
	assert_string_equal(out, expected);
	assert_int_equal(n, strlen(expected));
}

static void test_ascii(void **state)
{
	assert_escape(LIT("hello world"), "hello world");
	assert_escape(LIT(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"),
		      " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~");
	assert_escape(LIT(""), "");
	assert_escape(NULL, 0, "");
}

static void test_controls(void **state)
{
	assert_escape(LIT("\x1b[31mred"), "\\x1b[31mred");
	assert_escape(LIT("a\\b"), "a\\\\b");
	assert_escape(LIT("\\x41"), "\\\\x41"); /* a literal "\x41" stays distinguishable */
	assert_escape(LIT("1\n2\t3\r"), "1\\n2\\t3\\r");
	assert_escape(LIT("\x01\x07\x08\x0b\x0c\x1f"), "\\x01\\x07\\x08\\x0b\\x0c\\x1f");
	assert_escape(LIT("\x7f"), "\\x7f");
}

static void test_nul_and_length(void **state)
{
	assert_escape(LIT("ab\0cd"), "ab");
	assert_escape("abcdef", 3, "abc");
	assert_escape(LIT("\0"), "");
	/* A sequence cut by in_len is not valid UTF-8 any more. */
	assert_escape("\xc3\xa9", 1, "\\xc3");
}

static void test_utf8(void **state)
{
	assert_escape(LIT("h\xc3\xa9llo"), "h\xc3\xa9llo");
	assert_escape(LIT("\xe6\x97\xa5\xe6\x9c\xac"), "\xe6\x97\xa5\xe6\x9c\xac");
	assert_escape(LIT("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
	assert_escape(LIT("\xc2\xa0"), "\xc2\xa0"); /* U+00A0 is not C1 */
	assert_escape(LIT("\xe2\x80\xaf"), "\xe2\x80\xaf"); /* U+202F is not bidi */
	assert_escape(LIT("\xe2\x81\xa5"), "\xe2\x81\xa5"); /* U+2065 neither */
}

static void test_invalid_utf8(void **state)
{
	assert_escape(LIT("\xff"), "\\xff");
	assert_escape(LIT("\x80"), "\\x80");
	assert_escape(LIT("\xc0\xaf"), "\\xc0\\xaf");
	assert_escape(LIT("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_escape(LIT("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
	/* Truncated: the bytes are escaped, what follows is kept. */
	assert_escape(LIT("\xe2\x82xy"), "\\xe2\\x82xy");
	assert_escape(LIT("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");
	/* A bad byte does not swallow the valid character after it. */
	assert_escape(LIT("\xc3\xc3\xa9"), "\\xc3\xc3\xa9");
}

static void test_unicode_escapes(void **state)
{
	assert_escape(LIT("\xc2\x80"), "\\u0080");
	assert_escape(LIT("\xc2\x85"), "\\u0085");
	assert_escape(LIT("\xc2\x9b[2J"), "\\u009b[2J"); /* C1 CSI */
	assert_escape(LIT("\xc2\x9f"), "\\u009f");
	assert_escape(LIT("\xe2\x80\xa8"), "\\u2028");
	assert_escape(LIT("\xe2\x80\xa9"), "\\u2029");
	assert_escape(LIT("\xe2\x80\xaa"), "\\u202a");
	assert_escape(LIT("abc\xe2\x80\xaeghi"), "abc\\u202eghi"); /* RLO */
	assert_escape(LIT("\xe2\x81\xa6"), "\\u2066");
	assert_escape(LIT("\xe2\x81\xa9"), "\\u2069");
	assert_escape(LIT("\xe2\x80\x8e\xe2\x80\x8f"), "\\u200e\\u200f");
	assert_escape(LIT("\xd8\x9c"), "\\u061c");
}

/*
 * Truncation: the input's units are "a", ESC, "é", '\', NEL, 0xff, "€"; their
 * escaped ends are at the offsets below. For every out_size the output must be
 * the longest whole-unit prefix that fits with its NUL.
 */
static void test_truncation(void **state)
{
	static const char in[] = "a\x1b\xc3\xa9\\\xc2\x85\xff\xe2\x82\xac";
	static const char full[] = "a\\x1b\xc3\xa9\\\\\\u0085\\xff\xe2\x82\xac";
	static const size_t ends[] = { 0, 1, 5, 7, 9, 15, 19, 22 };
	char out[64];
	size_t size, want, n, i;

	assert_int_equal(strlen(full), 22);
	for (size = 1; size <= sizeof(full) + 2; size++) {
		memset(out, 'Z', sizeof(out));
		n = greeter_escape(out, size, in, sizeof(in) - 1);
		want = 0;
		for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
			if (ends[i] < size)
				want = ends[i];
		}
		assert_int_equal(n, want);
		assert_int_equal(out[n], '\0');
		assert_memory_equal(out, full, n);
		/* Nothing written past the NUL. */
		assert_int_equal(out[n + 1], 'Z');
	}

	/* out_size 0 writes nothing at all (out may even be NULL). */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(greeter_escape(out, 0, in, sizeof(in) - 1), 0);
	assert_int_equal(out[0], 'Z');
	assert_int_equal(greeter_escape(NULL, 0, in, sizeof(in) - 1), 0);
}

/* Is the output safe: valid UTF-8, no control character, no bidi control? */
static void assert_safe(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n) {
		n = greeter_utf8_decode(p + i, len - i, &cp);
		assert_int_not_equal(n, 0);
		assert_false(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f));
		assert_false(cp >= 0x2028 && cp <= 0x202e);
		assert_false(cp >= 0x2066 && cp <= 0x2069);
	}
}

/* A small deterministic PRNG (xorshift32): reproducible runs. */
static uint32_t next_random(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void test_escaped_size(void **state)
{
	static const char worst[] = "\x01\x01\x01\x01";
	char in[GREETER_FILENAME_SIZE];
	char exact[GREETER_ESCAPED_SIZE(GREETER_FILENAME_SIZE)];
	char roomy[sizeof(exact) + 64];
	uint32_t seed = 0x9e3779b9;
	size_t len, a, b, i;
	int round;

	/* The worst case fills GREETER_ESCAPED_SIZE exactly. */
	assert_int_equal(GREETER_ESCAPED_SIZE(4), 17);
	assert_int_equal(greeter_escape(exact, GREETER_ESCAPED_SIZE(4), LIT(worst)), 16);
	assert_string_equal(exact, "\\x01\\x01\\x01\\x01");

	/* Random bytes, biased towards the expensive ones: never truncated
	 * with GREETER_ESCAPED_SIZE, and the output is always safe. */
	for (round = 0; round < 20000; round++) {
		len = next_random(&seed) % sizeof(in);
		for (i = 0; i < len; i++) {
			uint32_t r = next_random(&seed);

			switch (r % 4) {
			case 0:
				in[i] = (char)(0xc2 + (r >> 8) % 2); /* C1 and friends */
				break;
			case 1:
				in[i] = (char)(0x80 + (r >> 8) % 64);
				break;
			case 2:
				in[i] = (char)(0xe2 + (r >> 8) % 3);
				break;
			default:
				in[i] = (char)(1 + (r >> 8) % 255); /* no NUL: keep it all */
				break;
			}
		}
		a = greeter_escape(exact, GREETER_ESCAPED_SIZE(len), in, len);
		b = greeter_escape(roomy, sizeof(roomy), in, len);
		assert_int_equal(a, b);
		assert_memory_equal(exact, roomy, a + 1);
		assert_true(a < GREETER_ESCAPED_SIZE(len));
		assert_safe(exact, a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),	       cmocka_unit_test(test_controls),
		cmocka_unit_test(test_nul_and_length), cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_invalid_utf8),   cmocka_unit_test(test_unicode_escapes),
		cmocka_unit_test(test_truncation),     cmocka_unit_test(test_escaped_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
