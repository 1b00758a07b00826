// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The checks on untrusted text, each against a reference implementation:
 * greeter_utf8_decode(), greeter_validate_message(), greeter_parse_uid()
 * (common/validate.c), greeter_escape() (common/escape.c) and
 * greeter_utf8_sanitize() (common/utf8.c). The output functions are also
 * run with small output buffers, allocated to the byte so that ASan sees any
 * overflow: the output must then be a prefix of the full output, cut between
 * whole escapes or characters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "fuzz_ref.h"
#include "utf8.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ref_validate_message(const uint8_t *s, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > GREETER_MESSAGE_MAX)
		return -E2BIG;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = ref_utf8_decode(s + i, len - i, &cp);

		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return -EINVAL;
		i += n;
	}
	return 0;
}

static int ref_parse_uid(const char *s, uint32_t *uid)
{
	size_t n = strlen(s), i = 0;
	unsigned long long v;

	if (n == 0 || strspn(s, "0123456789") != n)
		return -EINVAL;
	while (i + 1 < n && s[i] == '0')
		i++;
	if (n - i > 10)
		return -ERANGE;
	v = strtoull(s + i, NULL, 10);
	if (v > 4294967294ull)
		return -ERANGE;
	*uid = (uint32_t)v;
	return 0;
}

static bool ref_needs_u(uint32_t cp)
{
	static const uint32_t bidi[] = {0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b,
					0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069};

	if (cp >= 0x80 && cp <= 0x9f)
		return true;
	for (size_t i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++)
		if (cp == bidi[i])
			return true;
	return false;
}

/* out has room for GREETER_ESCAPED_SIZE(in_len) bytes. */
static size_t ref_escape(char *out, const uint8_t *in, size_t in_len)
{
	size_t o = 0;

	for (size_t i = 0; i < in_len && in[i];) {
		uint8_t c = in[i];
		uint32_t cp;
		size_t n;

		if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
			out[o++] = '\\';
			out[o++] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
			i++;
		} else if (c >= 0x80 && (n = ref_utf8_decode(in + i, in_len - i, &cp)) != 0) {
			if (ref_needs_u(cp)) {
				o += (size_t)sprintf(out + o, "\\u%04x", (unsigned)cp);
			} else {
				memcpy(out + o, in + i, n);
				o += n;
			}
			i += n;
		} else {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

/* Length of the escape or character starting at s, in greeter_escape() output. */
static size_t escape_unit_len(const char *s)
{
	if (s[0] == '\\')
		return s[1] == 'x' ? 4 : s[1] == 'u' ? 6 : 2;
	return ref_utf8_lead_len((uint8_t)s[0]);
}

/* In greeter_utf8_sanitize() output: a character. */
static size_t utf8_unit_len(const char *s)
{
	return ref_utf8_lead_len((uint8_t)s[0]);
}

static size_t ref_sanitize(char *out, const uint8_t *in, size_t in_len)
{
	size_t n = strnlen((const char *)in, in_len), o = 0;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = ref_utf8_decode(in + i, n - i, &cp);

		if (k) {
			memcpy(out + o, in + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

/*
 * out (of out_size bytes, out_size > 0) must hold a prefix of full (full_len
 * bytes) cut between units, as long as the space allows.
 */
static void check_prefix(const char *out, size_t n, size_t out_size, const char *full,
			 size_t full_len, size_t (*unit_len)(const char *s))
{
	if (n >= out_size || out[n] != '\0' || strlen(out) != n || n > full_len ||
	    memcmp(out, full, n) != 0)
		abort();
	if (n < full_len && n + unit_len(full + n) < out_size)
		abort(); /* the next unit would have fitted */
}

typedef size_t (*out_fn)(char *out, size_t out_size, const char *in, size_t in_len);

static void check_output(out_fn fn, size_t (*unit_len)(const char *s), const uint8_t *data,
			 size_t size, const char *full, size_t full_len)
{
	size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, full_len, full_len + 1,
			  1 + (size ? data[0] * 7u : 0) % (full_len + 1)};
	char none = 'x';

	if (fn(&none, 0, (const char *)data, size) != 0 || none != 'x')
		abort();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *out;

		if (sizes[i] == 0)
			continue; /* full_len == 0: done above */
		out = malloc(sizes[i]);

		if (!out)
			abort();
		check_prefix(out, fn(out, sizes[i], (const char *)data, size), sizes[i], full,
			     full_len, unit_len);
		free(out);
	}
}

static void check_uid(const uint8_t *data, size_t size)
{
	char s[32];
	uint32_t a = 12345, b = 12345;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	if (greeter_parse_uid(s, &a) != ref_parse_uid(s, &b) || a != b)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint32_t cp = 0, ref_cp = 0;
	size_t n, full_len;
	char *full, *ref;
	int r;

	n = greeter_utf8_decode(data, size, &cp);
	if (n != ref_utf8_decode(data, size, &ref_cp) || (n && cp != ref_cp))
		abort();

	r = greeter_validate_message((const char *)data, size, &why);
	if (r != ref_validate_message(data, size) || (r < 0 && (!why || !*why)) ||
	    greeter_validate_message((const char *)data, size, NULL) != r)
		abort();

	check_uid(data, size);

	/* Escape: the full output is the reference's, and only that. */
	full = malloc(GREETER_ESCAPED_SIZE(size));
	ref = malloc(GREETER_ESCAPED_SIZE(size));
	if (!full || !ref)
		abort();
	full_len = greeter_escape(full, GREETER_ESCAPED_SIZE(size), (const char *)data, size);
	if (full_len != ref_escape(ref, data, size) || strcmp(full, ref) != 0)
		abort();
	check_output(greeter_escape, escape_unit_len, data, size, full, full_len);
	free(full);
	free(ref);

	/* Sanitize: valid UTF-8 out, the input itself if it was valid. */
	full = malloc(GREETER_UTF8_SANITIZED_SIZE(size));
	ref = malloc(GREETER_UTF8_SANITIZED_SIZE(size));
	if (!full || !ref)
		abort();
	full_len = greeter_utf8_sanitize(full, GREETER_UTF8_SANITIZED_SIZE(size),
					 (const char *)data, size);
	if (full_len != ref_sanitize(ref, data, size) || strcmp(full, ref) != 0 ||
	    !ref_utf8_valid((const uint8_t *)full, full_len))
		abort();
	check_output(greeter_utf8_sanitize, utf8_unit_len, data, size, full, full_len);
	free(full);
	free(ref);
	return 0;
}
