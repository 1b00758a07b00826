// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * daemon/store/change_record.c: change_log_replay() on arbitrary bytes, as a
 * messages.log after any crash or damage.
 *
 * 1. The replay stops at a line boundary: good_len ends in a newline (or is
 *    0); everything is consumed unless a torn tail (no newline after
 *    good_len) or a damaged record (good_len starts it) says otherwise; the
 *    reason is printable.
 * 2. The state stays a valid list: sorted, unique, valid messages.
 * 3. Each record that applied, written again by change_record_append() and
 *    parsed back, is the same record; the log written again replays to the
 *    same state.
 * 4. Replaying the good part again over its own result changes nothing
 *    (records are idempotent: a crash between a compaction's snapshot and
 *    the log's removal is harmless).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "change_record.h"
#include "fuzz_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct greeter_entries *a, const struct greeter_entries *b)
{
	return a->count == b->count &&
	       (a->count == 0 || memcmp(a->items, b->items, a->count * sizeof(*a->items)) == 0);
}

static void check_state(const struct greeter_entries *st)
{
	if (st->count > GREETER_MAX_MESSAGES)
		abort();
	for (size_t i = 0; i < st->count; i++) {
		size_t n = strnlen(st->items[i].text, GREETER_MESSAGE_SIZE);

		if (i > 0 && st->items[i - 1].uid >= st->items[i].uid)
			abort();
		if (n == 0 || n > GREETER_MESSAGE_MAX ||
		    !ref_utf8_valid((const uint8_t *)st->items[i].text, n))
			abort();
		for (size_t k = n; k < GREETER_MESSAGE_SIZE; k++)
			if (st->items[i].text[k])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct greeter_entries st = { 0 }, again = { 0 }, st2 = { 0 };
	struct change_log_replay res, res2;
	char *out = NULL;
	size_t out_len = 0, out_cap = 0, pos;

	if (change_log_replay(s, size, &st, &res) != 0)
		goto out; /* -ENOMEM */
	if (res.good_len > size || (res.good_len > 0 && s[res.good_len - 1] != '\n'))
		abort();
	if (res.torn && res.damaged)
		abort();
	if (!res.torn && !res.damaged && res.good_len != size)
		abort();
	if (res.torn && memchr(s + res.good_len, '\n', size - res.good_len))
		abort();
	if (res.damaged && (!*res.why || !memchr(s + res.good_len, '\n', size - res.good_len)))
		abort();
	for (const char *p = res.why; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	check_state(&st);

	/* 3: every good record, written again, parses to itself. */
	pos = 0;
	for (size_t i = 0; i < res.applied; i++) {
		const char *nl = memchr(s + pos, '\n', res.good_len - pos);
		struct change_record rec = { 0 }, back = { 0 };
		char why[256];
		size_t start = out_len;

		if (!nl || change_record_parse(s + pos, (size_t)(nl - (s + pos)), &rec, why,
					       sizeof(why)) != 0)
			abort();
		if (change_record_append(&rec, &out, &out_len, &out_cap) != 0) {
			change_record_free(&rec);
			goto out;
		}
		if (out[out_len - 1] != '\n' ||
		    change_record_parse(out + start, out_len - start - 1, &back, why,
					sizeof(why)) != 0 ||
		    back.op != rec.op || !same(&back.entries, &rec.entries))
			abort();
		change_record_free(&rec);
		change_record_free(&back);
		pos = (size_t)(nl - s) + 1;
	}
	if (change_log_replay(out, out_len, &again, &res2) != 0)
		goto out;
	if (res2.torn || res2.damaged || res2.applied != res.applied || !same(&again, &st))
		abort();

	/* 4: the good part over its own result. */
	if (st.count) {
		st2.items = malloc(st.count * sizeof(*st.items));
		if (!st2.items)
			goto out;
		memcpy(st2.items, st.items, st.count * sizeof(*st.items));
		st2.count = st2.capacity = st.count;
	}
	if (change_log_replay(s, res.good_len, &st2, &res2) != 0)
		goto out;
	if (res2.damaged || res2.torn || !same(&st2, &st))
		abort();
out:
	free(out);
	greeter_entries_free(&st);
	greeter_entries_free(&st2);
	greeter_entries_free(&again);
	return 0;
}
