// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"
#include "validate.h"

static const char hex[] = "0123456789abcdef";

bool greeter_needs_u_escape(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
		(cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t greeter_escape(char *out, size_t out_size, const char *in, size_t in_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pos = 0, i = 0;

	if (out_size == 0)
		return 0;

	while (i < in_len && s[i] != '\0') {
		/* One output unit: an escape or a whole character. */
		char unit[8];
		const char *src = unit;
		size_t n = 1, u = 2;
		unsigned char c = s[i];
		uint32_t cp;

		unit[0] = '\\';
		if (c == '\\') {
			unit[1] = '\\';
		} else if (c == '\n') {
			unit[1] = 'n';
		} else if (c == '\t') {
			unit[1] = 't';
		} else if (c == '\r') {
			unit[1] = 'r';
		} else if (c >= 0x20 && c < 0x7f) {
			src = (const char *)s + i;
			u = 1;
		} else if (c >= 0x80 && (n = greeter_utf8_decode(s + i, in_len - i, &cp)) != 0) {
			if (greeter_needs_u_escape(cp)) {
				unit[1] = 'u';
				unit[2] = hex[(cp >> 12) & 0xf];
				unit[3] = hex[(cp >> 8) & 0xf];
				unit[4] = hex[(cp >> 4) & 0xf];
				unit[5] = hex[cp & 0xf];
				u = 6;
			} else {
				src = (const char *)s + i;
				u = n;
			}
		} else {
			/* C0, DEL, or a byte that does not start valid UTF-8. */
			n = 1;
			unit[1] = 'x';
			unit[2] = hex[c >> 4];
			unit[3] = hex[c & 0xf];
			u = 4;
		}

		/* Keep room for the NUL; never emit part of a unit. */
		if (out_size - pos <= u)
			break;
		memcpy(out + pos, src, u);
		pos += u;
		i += n;
	}
	out[pos] = '\0';
	return pos;
}
