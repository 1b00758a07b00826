// SPDX-License-Identifier: LGPL-2.1-or-later
#include "utf8.h"
#include "validate.h"

#include <string.h>

size_t greeter_utf8_sanitize(char *out, size_t out_size, const char *in, size_t in_len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strnlen(in, in_len), o = 0;

	if (out_size == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = greeter_utf8_decode(s + i, n - i, &cp);
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
