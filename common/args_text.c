// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "args_text.h"

#include <stdbool.h>
#include <string.h>

#include "escape.h"
#include "validate.h"

/* Spaces that do not look like one: an argument holding one is quoted. */
static bool is_space_like(uint32_t cp)
{
	return cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) ||
		cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

bool greeter_arg_needs_quotes(const char *arg)
{
	const unsigned char *p = (const unsigned char *)arg;
	size_t len = strlen(arg), i = 0, n;
	uint32_t cp;

	if (!len)
		return true;
	while (i < len) {
		n = greeter_utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			i++;
			continue;
		}
		if (cp == '"' || is_space_like(cp))
			return true;
		i += n;
	}
	return false;
}

/* Escape one argument into out (room bytes, NUL included); its length, or 0 if it does not fit. */
static size_t one_arg(char *out, size_t room, const char *arg)
{
	size_t n = strlen(arg), len = 0;
	bool quote = greeter_arg_needs_quotes(arg);
	const char *p = arg, *end = arg + n;

	if (quote) {
		if (room < 2)
			return 0;
		out[len++] = '"';
	}
	while (p < end) {
		/* A run without a double quote, escaped as the other strings. */
		const char *q = memchr(p, '"', (size_t)(end - p));
		size_t run = q ? (size_t)(q - p) : (size_t)(end - p);

		/* Room for the worst case, so that the run is never cut. */
		if (run) {
			if (room - len < GREETER_ESCAPED_SIZE(run))
				return 0;
			len += greeter_escape(out + len, room - len, p, run);
		}
		p += run;
		if (q) {
			if (room - len < 3)
				return 0;
			out[len++] = '\\';
			out[len++] = '"';
			p++;
		}
	}
	if (quote) {
		if (room - len < 2)
			return 0;
		out[len++] = '"';
	}
	if (len >= room)
		return 0;
	out[len] = '\0';
	return len;
}

size_t greeter_args_text(char *out, size_t out_size, const char *args, size_t count)
{
	size_t len = 0;
	const char *arg = args;

	if (!out_size)
		return 0;
	out[0] = '\0';
	for (size_t i = 0; i < count; i++, arg += strlen(arg) + 1) {
		size_t sep = i > 0, got;

		if (out_size - len < sep + 1)
			break;
		if (sep)
			out[len] = ' ';
		got = one_arg(out + len + sep, out_size - len - sep, arg);
		/* An empty argument is at least "" (2 bytes): 0 means it did not fit. */
		if (got == 0)
			break;
		len += sep + got;
	}
	out[len] = '\0';
	return len;
}
