// SPDX-License-Identifier: LGPL-2.1-or-later
#include "utf8.h"

#include <string.h>

size_t greeter_utf8_sequence_length(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t greeter_utf8_sanitize(char *out, size_t out_size, const char *in, size_t in_len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strnlen(in, in_len), o = 0;

	if (out_size == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t len = greeter_utf8_sequence_length(s + i, n - i);
		const char *src = len ? in + i : replacement;
		size_t src_len = len ? len : 3;

		if (o + src_len + 1 > out_size)
			break;
		memcpy(out + o, src, src_len);
		o += src_len;
		i += len ? len : 1;
	}
	out[o] = '\0';
	return o;
}
