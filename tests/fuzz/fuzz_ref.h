/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reference implementations the fuzz targets compare the real code with:
 * written differently on purpose (decode first, then rule out what is not
 * allowed), so that one mistake is unlikely to be made twice.
 */
#ifndef GREETER_FUZZ_REF_H
#define GREETER_FUZZ_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One UTF-8 sequence as RFC 3629 allows it: its length, or 0. */
static inline size_t ref_utf8_decode(const uint8_t *s, size_t len, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n;
	uint32_t v;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, v = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, v = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, v = s[0] & 0x07u;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static inline bool ref_utf8_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = ref_utf8_decode(s + i, len - i, &cp);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Length of the UTF-8 sequence a valid lead byte starts. */
static inline size_t ref_utf8_lead_len(uint8_t c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static inline size_t ref_utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

#endif
