// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * common/messages_json.c: messages_json_parse() on arbitrary bytes, and the round
 * trip through messages_json_format().
 *
 * 1. The input as a file. On success the entries are sorted, unique and
 *    valid, and parse(format(entries)) gives them back; on failure the
 *    entries stay empty and the reason is printable.
 *    Formatted, nothing in it can drive a terminal raw.
 * 2. The input as entries, records of a 4-byte UID (little endian), a length
 *    byte and that many bytes of text (up to 64), put in the list as they
 *    come, unsorted, duplicates and all. messages_json_format() must fail
 *    exactly when there is a duplicate or an invalid message; when it
 *    succeeds, parse(format(x)) == x (sorted) and formatting again gives the
 *    same bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ref.h"
#include "messages_json.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err)
{
	for (const unsigned char *p = (const unsigned char *)err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	if (!ref_utf8_valid((const uint8_t *)err, strlen(err)))
		abort();
}

static bool same(const struct greeter_entries *a, const struct greeter_entries *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (a->items[i].uid != b->items[i].uid ||
		    strcmp(a->items[i].text, b->items[i].text) != 0)
			return false;
	return true;
}

static bool valid_text(const char *text)
{
	size_t n = strnlen(text, GREETER_MESSAGE_SIZE);
	size_t i;

	if (n == 0 || n > GREETER_MESSAGE_MAX)
		return false;
	for (i = 0; i < n;) {
		uint32_t cp;
		size_t k = ref_utf8_decode((const uint8_t *)text + i, n - i, &cp);

		if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += k;
	}
	return true;
}

/*
 * What format() writes is safe to show: no control byte but the layout's tab
 * and newline, and none of the characters that reorder or break lines raw
 * (written out by hand here, apart from escape.c's list).
 */
static void check_displayable(const char *out, size_t len)
{
	const uint8_t *s = (const uint8_t *)out;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = ref_utf8_decode(s + i, len - i, &cp);

		if (k == 0 || (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			abort();
		i += k;
	}
}

/* format(x), then parse it: x back, sorted; format again: the same bytes. */
static void round_trip(const struct greeter_entries *x, const struct greeter_entries *sorted)
{
	struct greeter_entries back = {0};
	char err[256] = "", *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	if (messages_json_format(x, &out, &len, err, sizeof(err)) != 0)
		abort();
	if (len != strlen(out) || len == 0 || out[len - 1] != '\n')
		abort();
	check_displayable(out, len);
	if (messages_json_parse(out, len, &back, err, sizeof(err)) != 0 || !same(&back, sorted))
		abort();
	if (messages_json_format(&back, &again, &len2, err, sizeof(err)) != 0 || len2 != len ||
	    memcmp(out, again, len) != 0)
		abort();
	free(again);
	free(out);
	greeter_entries_free(&back);
}

static void as_file(const uint8_t *data, size_t size)
{
	struct greeter_entries list = {0};
	char err[512] = "";
	int r = messages_json_parse((const char *)data, size, &list, err, sizeof(err));

	if (r != 0) {
		if ((r != -EBADMSG && r != -ENOMEM) || list.count != 0 || list.items || !*err)
			abort();
		check_err(err);
		return;
	}
	for (size_t i = 0; i < list.count; i++)
		if ((i > 0 && list.items[i - 1].uid >= list.items[i].uid) ||
		    !valid_text(list.items[i].text))
			abort();
	round_trip(&list, &list);
	greeter_entries_free(&list);
}

static int cmp_uid(const void *a, const void *b)
{
	const struct greeter_entry *x = a, *y = b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

static void as_entries(const uint8_t *data, size_t size)
{
	struct greeter_entries x = {0}, sorted = {0};
	char err[256] = "", *out = NULL;
	size_t len = 0, i = 0;
	bool ok = true;
	int r;

	x.items = calloc(size / 5 + 1, sizeof(*x.items));
	sorted.items = calloc(size / 5 + 1, sizeof(*x.items));
	if (!x.items || !sorted.items)
		abort();
	while (size - i >= 5 && x.count < GREETER_MAX_MESSAGES) {
		struct greeter_entry *e = &x.items[x.count++];
		size_t n = data[i + 4] % (GREETER_MESSAGE_SIZE + 1);

		e->uid = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
			 (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;
		i += 5;
		if (n > size - i)
			n = size - i;
		memcpy(e->text, data + i, n); /* zero-padded by calloc, maybe no NUL */
		i += n;
		ok &= valid_text(e->text);
	}
	x.capacity = sorted.capacity = x.count;
	sorted.count = x.count;
	if (x.count)
		memcpy(sorted.items, x.items, x.count * sizeof(*x.items));
	qsort(sorted.items, sorted.count, sizeof(*sorted.items), cmp_uid);
	for (i = 1; i < sorted.count; i++)
		ok &= sorted.items[i - 1].uid != sorted.items[i].uid;

	r = messages_json_format(&x, &out, &len, err, sizeof(err));
	if (ok) {
		if (r != 0)
			abort();
		round_trip(&x, &sorted);
	} else if (r != -EINVAL || out || !*err) {
		abort();
	} else {
		check_err(err);
	}
	free(out);
	free(x.items);
	free(sorted.items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_file(data, size);
	as_entries(data, size);
	return 0;
}
