// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>

#include "validate.h"

size_t greeter_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	/* Allowed range of the second byte: this is what rules out overlong
	 * forms, surrogates and code points above U+10FFFF (RFC 3629, 4). */
	unsigned char lo = 0x80, hi = 0xbf;
	unsigned char c;
	uint32_t v;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2) {
		/* A continuation byte, or C0/C1: always overlong. */
		return 0;
	} else if (c < 0xe0) {
		n = 2;
		v = c & 0x1f;
	} else if (c < 0xf0) {
		n = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		n = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	v = (v << 6) | (s[1] & 0x3f);
	for (i = 2; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/* The reason below spells the limit out. */
_Static_assert(GREETER_MESSAGE_MAX == 63, "update the \"longer than\" reason");

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

static int fail(const char **why, const char *reason, int error)
{
	if (why)
		*why = reason;
	return error;
}

int greeter_validate_message(const char *s, size_t len, const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n;
	uint32_t cp;

	if (!s || len == 0)
		return fail(why, "message is empty", -EINVAL);
	if (len > GREETER_MESSAGE_MAX)
		return fail(why, "message is longer than 63 bytes", -E2BIG);

	for (i = 0; i < len; i += n) {
		n = greeter_utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return fail(why, "message is not valid UTF-8", -EINVAL);
		if (is_control(cp))
			return fail(why, "message contains a control character", -EINVAL);
	}
	return 0;
}

int greeter_parse_uid(const char *s, uint32_t *uid)
{
	uint64_t v = 0;
	const char *p;

	if (!s || !uid || *s == '\0')
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		/* Stop adding once out of range (no overflow), but keep
		 * scanning: "99999999999x" is not a number at all. */
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v >= GREETER_DEFAULT_UID)
		return -ERANGE;
	*uid = (uint32_t)v;
	return 0;
}
