// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

/* sizeof - 1 so that embedded NULs count. */
#define LIT(s) (s), (sizeof(s) - 1)

static void assert_valid(const char *s, size_t len)
{
	const char *why = "untouched";

	assert_int_equal(greeter_validate_message(s, len, &why), 0);
	assert_string_equal(why, "untouched");
}

static void assert_invalid(const char *s, size_t len, int error, const char *reason)
{
	const char *why = NULL;

	assert_int_equal(greeter_validate_message(s, len, &why), error);
	assert_non_null(why);
	assert_string_equal(why, reason);
}

#define NOT_UTF8 "message is not valid UTF-8"
#define CONTROL "message contains a control character"

static void test_valid_messages(void **state)
{
	assert_valid(LIT("Hello World"));
	assert_valid(LIT("x"));
	assert_valid(LIT("h\xc3\xa9llo")); /* é, 2 bytes */
	assert_valid(LIT("\xe6\x97\xa5\xe6\x9c\xac")); /* 日本, 3 bytes each */
	assert_valid(LIT("\xf0\x9f\x98\x80")); /* U+1F600, 4 bytes */
	assert_valid(LIT("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last one */
	assert_valid(LIT("\xed\x9f\xbf")); /* U+D7FF, below the surrogates */
	assert_valid(LIT("\xee\x80\x80")); /* U+E000, above them */
	assert_valid(LIT("\xef\xbf\xbd")); /* U+FFFD */
	assert_valid(LIT("\xc2\xa0")); /* U+00A0, just past C1 */
	assert_valid(LIT("\xe0\xa0\x80")); /* U+0800, shortest 3-byte */
	assert_valid(LIT("\xf0\x90\x80\x80")); /* U+10000, shortest 4-byte */
	assert_valid(LIT(" ~!\"\\'"));
	/* Only the length given counts, not what follows. */
	assert_valid("abc\x01", 3);
	/* why may be NULL. */
	assert_int_equal(greeter_validate_message(LIT("ok"), NULL), 0);
	assert_int_equal(greeter_validate_message(LIT("\x01"), NULL), -EINVAL);
}

static void test_length(void **state)
{
	char buf[GREETER_MESSAGE_SIZE + 1];

	memset(buf, 'a', sizeof(buf));
	assert_valid(buf, 1);
	assert_valid(buf, 63);
	assert_invalid(buf, 64, -E2BIG, "message is longer than 63 bytes");
	assert_invalid(buf, 65, -E2BIG, "message is longer than 63 bytes");
	assert_invalid(buf, SIZE_MAX, -E2BIG, "message is longer than 63 bytes");
	assert_invalid(buf, 0, -EINVAL, "message is empty");
	assert_invalid(NULL, 0, -EINVAL, "message is empty");

	/* 63 bytes that end with a 3-byte character: fine. */
	memset(buf, 'a', 60);
	memcpy(buf + 60, "\xe2\x82\xac", 3);
	assert_valid(buf, 63);
	/* The same character pushed one byte further is too long (not split). */
	memset(buf, 'a', 61);
	memcpy(buf + 61, "\xe2\x82\xac", 3);
	assert_invalid(buf, 64, -E2BIG, "message is longer than 63 bytes");
}

static void test_invalid_utf8(void **state)
{
	assert_invalid(LIT("\xc0\xaf"), -EINVAL, NOT_UTF8); /* overlong '/' */
	assert_invalid(LIT("\xc1\xbf"), -EINVAL, NOT_UTF8); /* overlong */
	assert_invalid(LIT("\xe0\x80\xaf"), -EINVAL, NOT_UTF8); /* overlong, 3 bytes */
	assert_invalid(LIT("\xe0\x9f\xbf"), -EINVAL, NOT_UTF8); /* overlong U+07FF */
	assert_invalid(LIT("\xf0\x80\x80\xaf"), -EINVAL, NOT_UTF8); /* overlong, 4 bytes */
	assert_invalid(LIT("\xf0\x8f\xbf\xbf"), -EINVAL, NOT_UTF8); /* overlong U+FFFF */
	assert_invalid(LIT("\xed\xa0\x80"), -EINVAL, NOT_UTF8); /* U+D800 */
	assert_invalid(LIT("\xed\xbf\xbf"), -EINVAL, NOT_UTF8); /* U+DFFF */
	assert_invalid(LIT("\xed\xa0\xbd\xed\xb8\x80"), -EINVAL, NOT_UTF8); /* CESU-8 pair */
	assert_invalid(LIT("\xf4\x90\x80\x80"), -EINVAL, NOT_UTF8); /* U+110000 */
	assert_invalid(LIT("\xf5\x80\x80\x80"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xf8\x88\x80\x80\x80"), -EINVAL, NOT_UTF8); /* 5-byte form */
	assert_invalid(LIT("\xfe"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xff"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\x80"), -EINVAL, NOT_UTF8); /* lone continuation */
	assert_invalid(LIT("a\xbfz"), -EINVAL, NOT_UTF8);
	/* Truncated sequences, at the end and in the middle. */
	assert_invalid(LIT("\xc3"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xe2\x82"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xf0\x9f\x98"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("ok\xe2\x82"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xe2\x82x"), -EINVAL, NOT_UTF8);
	assert_invalid(LIT("\xc3("), -EINVAL, NOT_UTF8);
	/* A valid sequence cut by the length given. */
	assert_invalid("\xe2\x82\xac", 2, -EINVAL, NOT_UTF8);
}

static void test_controls(void **state)
{
	assert_invalid(LIT("\x01"), -EINVAL, CONTROL);
	assert_invalid(LIT("a\tb"), -EINVAL, CONTROL);
	assert_invalid(LIT("line\n"), -EINVAL, CONTROL);
	assert_invalid(LIT("\r"), -EINVAL, CONTROL);
	assert_invalid(LIT("\x1b[31mred"), -EINVAL, CONTROL);
	assert_invalid(LIT("\x1f"), -EINVAL, CONTROL);
	assert_invalid(LIT("del\x7f"), -EINVAL, CONTROL);
	assert_invalid(LIT("ab\0cd"), -EINVAL, CONTROL); /* embedded NUL */
	assert_invalid(LIT("\0"), -EINVAL, CONTROL);
	assert_invalid(LIT("\xc2\x80"), -EINVAL, CONTROL); /* U+0080 */
	assert_invalid(LIT("\xc2\x85"), -EINVAL, CONTROL); /* U+0085 NEL */
	assert_invalid(LIT("\xc2\x9b"), -EINVAL, CONTROL); /* U+009B CSI */
	assert_invalid(LIT("\xc2\x9f"), -EINVAL, CONTROL); /* U+009F */
}

static void assert_uid(const char *s, int error, uint32_t expected)
{
	uint32_t uid = 12345;

	assert_int_equal(greeter_parse_uid(s, &uid), error);
	/* Untouched on error. */
	assert_int_equal(uid, error == 0 ? expected : 12345);
}

static void test_parse_uid(void **state)
{
	assert_uid("0", 0, 0);
	assert_uid("1000", 0, 1000);
	assert_uid("65534", 0, 65534);
	assert_uid("4294967294", 0, 4294967294u);
	/* Leading zeros are decimal, never octal. */
	assert_uid("01", 0, 1);
	assert_uid("010", 0, 10);
	assert_uid("00000000000000000000004294967294", 0, 4294967294u);

	assert_uid("4294967295", -ERANGE, 0); /* GREETER_DEFAULT_UID */
	assert_uid("4294967296", -ERANGE, 0);
	assert_uid("18446744073709551616", -ERANGE, 0);
	assert_uid("99999999999999999999999999999999999999", -ERANGE, 0);

	assert_uid("", -EINVAL, 0);
	assert_uid("-1", -EINVAL, 0);
	assert_uid("-0", -EINVAL, 0);
	assert_uid("+1", -EINVAL, 0);
	assert_uid(" 1", -EINVAL, 0);
	assert_uid("1 ", -EINVAL, 0);
	assert_uid("1\n", -EINVAL, 0);
	assert_uid("1a", -EINVAL, 0);
	assert_uid("0x10", -EINVAL, 0);
	assert_uid("1e3", -EINVAL, 0);
	assert_uid("1.0", -EINVAL, 0);
	assert_uid("default", -EINVAL, 0);
	assert_uid("\xd9\xa1", -EINVAL, 0); /* ARABIC-INDIC DIGIT ONE */
	/* Out of range and then not a number: not a number wins. */
	assert_uid("99999999999999999999x", -EINVAL, 0);
	assert_int_equal(greeter_parse_uid(NULL, &(uint32_t){ 0 }), -EINVAL);
}

static void test_utf8_decode(void **state)
{
	uint32_t cp = 0;

	assert_int_equal(greeter_utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(greeter_utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(greeter_utf8_decode((const unsigned char *)"\xe2\x80\xae", 3, &cp), 3);
	assert_int_equal(cp, 0x202e);
	assert_int_equal(greeter_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(greeter_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 3, &cp), 0);
	assert_int_equal(greeter_utf8_decode((const unsigned char *)"", 0, &cp), 0);
}

/* Every 1- and 2-byte input against a reference classification. */
static void test_exhaustive_short(void **state)
{
	unsigned int a, b;
	char s[2];

	for (a = 0; a < 256; a++) {
		int want = (a >= 0x20 && a < 0x7f) ? 0 : -EINVAL;

		s[0] = (char)a;
		assert_int_equal(greeter_validate_message(s, 1, NULL), want);
		for (b = 0; b < 256; b++) {
			bool two = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
			bool c1 = a == 0xc2 && b <= 0x9f;
			bool ascii = a >= 0x20 && a < 0x7f && b >= 0x20 && b < 0x7f;

			s[1] = (char)b;
			want = ((two && !c1) || ascii) ? 0 : -EINVAL;
			assert_int_equal(greeter_validate_message(s, 2, NULL), want);
		}
	}
}

static size_t encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Every code point round-trips, and among all 2^24 three-byte inputs exactly
 * the shortest encodings of U+0800..U+FFFF minus surrogates start with a valid
 * 3-byte sequence.
 */
static void test_utf8_exhaustive(void **state)
{
	unsigned char s[4];
	size_t n, valid3 = 0;
	uint32_t cp, got, i;

	for (cp = 0; cp <= 0x10ffff; cp++) {
		n = encode(cp, s);
		if (cp >= 0xd800 && cp <= 0xdfff) {
			assert_int_equal(greeter_utf8_decode(s, n, &got), 0);
			continue;
		}
		assert_int_equal(greeter_utf8_decode(s, n, &got), n);
		assert_int_equal(got, cp);
	}
	for (i = 0; i < (1u << 24); i++) {
		unsigned char re[4];

		s[0] = (unsigned char)(i >> 16);
		s[1] = (unsigned char)(i >> 8);
		s[2] = (unsigned char)i;
		n = greeter_utf8_decode(s, 3, &got);
		if (n == 0)
			continue;
		/* Whatever is accepted is the one canonical encoding. */
		assert_int_equal(encode(got, re), n);
		assert_memory_equal(re, s, n);
		assert_false(got >= 0xd800 && got <= 0xdfff);
		if (n == 3)
			valid3++;
	}
	assert_int_equal(valid3, 0x10000 - 0x800 - 0x800);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_messages),	 cmocka_unit_test(test_length),
		cmocka_unit_test(test_invalid_utf8),	 cmocka_unit_test(test_controls),
		cmocka_unit_test(test_parse_uid),	 cmocka_unit_test(test_utf8_decode),
		cmocka_unit_test(test_exhaustive_short), cmocka_unit_test(test_utf8_exhaustive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
