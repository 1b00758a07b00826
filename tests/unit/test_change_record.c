// SPDX-License-Identifier: LGPL-2.1-or-later
/* The change log's records (daemon/store/change_record.c): format, parse, replay. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "change_record.h"

struct buf {
	char *data;
	size_t len, cap;
};

static void add(struct greeter_entries *e, uint32_t uid, const char *text)
{
	assert_int_equal(greeter_entries_add(e, uid, text), 0);
}

static void append(struct buf *b, enum change_op op, const struct greeter_entries *e)
{
	struct change_record rec = { .op = op, .entries = *e };

	assert_int_equal(change_record_append(&rec, &b->data, &b->len, &b->cap), 0);
}

/* A line with a correct checksum over body. */
static void append_raw(struct buf *b, const char *body)
{
	char line[512];
	unsigned long crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)body, (uInt)strlen(body));
	int n = snprintf(line, sizeof(line), "%08lx %s\n", crc, body);

	b->data = realloc(b->data, b->len + (size_t)n + 1);
	memcpy(b->data + b->len, line, (size_t)n);
	b->len += (size_t)n;
}

static const char *text_of(const struct greeter_entries *e, uint32_t uid)
{
	const struct greeter_entry *x = greeter_entries_find(e, uid);

	return x ? x->text : NULL;
}

/* Three records: set 501 and the default, remove 501, set 502. */
static void three(struct buf *b)
{
	struct greeter_entries e = { 0 };

	add(&e, 501, "Hi 501, \"quoted\" \\ and é");
	add(&e, GREETER_DEFAULT_UID, "Hello all");
	append(b, CHANGE_SET, &e);
	greeter_entries_free(&e);
	add(&e, 501, "x");
	append(b, CHANGE_REMOVE, &e);
	greeter_entries_free(&e);
	add(&e, 502, "Hi 502");
	append(b, CHANGE_SET, &e);
	greeter_entries_free(&e);
}

static void test_round_trip(void **state)
{
	struct buf b = { 0 };
	struct greeter_entries st = { 0 };
	struct change_log_replay res;

	three(&b);
	assert_int_equal(change_log_replay(b.data, b.len, &st, &res), 0);
	assert_int_equal(res.applied, 3);
	assert_false(res.torn);
	assert_false(res.damaged);
	assert_int_equal(res.good_len, b.len);
	assert_int_equal(st.count, 2);
	assert_null(text_of(&st, 501));
	assert_string_equal(text_of(&st, 502), "Hi 502");
	assert_string_equal(text_of(&st, GREETER_DEFAULT_UID), "Hello all");
	assert_non_null(strstr(b.data, "\tdefault\tHello all"));
	greeter_entries_free(&st);
	free(b.data);
}

static void test_torn_tail_dropped(void **state)
{
	struct buf b = { 0 };
	struct greeter_entries st = { 0 };
	struct change_log_replay res;
	size_t whole;

	three(&b);
	whole = b.len;
	/* Every cut inside the last record: the first two apply, the third is dropped. */
	for (size_t cut = whole - 1; b.data[cut - 1] != '\n'; cut--) {
		assert_int_equal(change_log_replay(b.data, cut, &st, &res), 0);
		assert_true(res.torn);
		assert_false(res.damaged);
		assert_int_equal(res.applied, 2);
		assert_null(text_of(&st, 502));
		assert_string_equal(text_of(&st, GREETER_DEFAULT_UID), "Hello all");
		assert_int_equal(res.good_len, (size_t)(strchr(strchr(b.data, '\n') + 1, '\n') -
							b.data + 1));
		greeter_entries_free(&st);
	}
	free(b.data);
}

static void test_bad_checksum_mid_file(void **state)
{
	struct buf b = { 0 };
	struct greeter_entries st = { 0 };
	struct change_log_replay res;
	char *second;

	three(&b);
	second = strchr(b.data, '\n') + 1;
	/* One bit of the second record's text flipped: it and what follows are not applied. */
	second[12] ^= 0x01;
	assert_int_equal(change_log_replay(b.data, b.len, &st, &res), 0);
	assert_true(res.damaged);
	assert_false(res.torn);
	assert_int_equal(res.applied, 1);
	assert_int_equal(res.good_len, (size_t)(second - b.data));
	assert_non_null(strstr(res.why, "record 2"));
	assert_non_null(strstr(res.why, "checksum"));
	/* The first record entirely, nothing of the rest. */
	assert_string_equal(text_of(&st, 501), "Hi 501, \"quoted\" \\ and é");
	assert_null(text_of(&st, 502));
	greeter_entries_free(&st);
	free(b.data);
}

static void test_bad_records(void **state)
{
	static const char *const bodies[] = {
		"set\t501",	    /* no message */
		"set\t501\t",	    /* empty message */
		"set\t501\tok\t",   /* trailing tab */
		"set\tbob\tok",	    /* not a UID */
		"set\t4294967295\tx", /* the default's key as a number */
		"set\t01\tx",	    /* leading zero */
		"set\t5\ta\t5\tb",  /* a UID twice */
		"remove",	    /* nothing */
		"remove\t",	    /* an empty UID */
		"frobnicate\t5",    /* unknown */
		"set\t5\tbell\x07", /* a control character */
		"set\t5\t\xff",	    /* not UTF-8 */
		"set\t5\txxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct buf b = { 0 };
		struct greeter_entries st = { 0 };
		struct change_log_replay res;

		append_raw(&b, "set\t1\tfirst");
		append_raw(&b, bodies[i]);
		assert_int_equal(change_log_replay(b.data, b.len, &st, &res), 0);
		if (!res.damaged)
			fail_msg("accepted %s", bodies[i]);
		assert_int_equal(res.applied, 1);
		assert_int_equal(st.count, 1);
		greeter_entries_free(&st);
		free(b.data);
	}
	/* Not a record at all. */
	{
		struct greeter_entries st = { 0 };
		struct change_log_replay res;

		assert_int_equal(change_log_replay("hello\n", 6, &st, &res), 0);
		assert_true(res.damaged);
		assert_int_equal(res.applied, 0);
	}
}

static void test_replay_idempotent(void **state)
{
	struct buf b = { 0 };
	struct greeter_entries once = { 0 }, twice = { 0 }, e = { 0 };
	struct change_log_replay res;

	three(&b);
	add(&e, 700, "seven hundred");
	add(&e, 502, "Hi 502 again");
	append(&b, CHANGE_REPLACE, &e);
	greeter_entries_free(&e);
	add(&e, 701, "after the replace");
	append(&b, CHANGE_SET, &e);
	greeter_entries_free(&e);

	assert_int_equal(change_log_replay(b.data, b.len, &once, &res), 0);
	assert_int_equal(res.applied, 5);
	assert_int_equal(once.count, 3);
	/* Over a snapshot that already holds them (a crash between a compaction's
	 * rename and the log's removal): the same state. */
	twice.items = malloc(once.count * sizeof(*once.items));
	memcpy(twice.items, once.items, once.count * sizeof(*once.items));
	twice.count = twice.capacity = once.count;
	assert_int_equal(change_log_replay(b.data, b.len, &twice, &res), 0);
	assert_int_equal(twice.count, once.count);
	assert_memory_equal(twice.items, once.items, once.count * sizeof(*once.items));
	/* And any suffix of the log over the result: the same state too. */
	for (const char *p = b.data; p < b.data + b.len; p = strchr(p, '\n') + 1) {
		assert_int_equal(change_log_replay(p, b.len - (size_t)(p - b.data), &twice, &res), 0);
		assert_int_equal(twice.count, once.count);
		assert_memory_equal(twice.items, once.items, once.count * sizeof(*once.items));
	}
	greeter_entries_free(&once);
	greeter_entries_free(&twice);
	free(b.data);
}

static void test_set_past_capacity_not_applied(void **state)
{
	struct greeter_entries st = { 0 }, e = { 0 };
	struct buf b = { 0 };
	struct change_log_replay res;

	for (uint32_t i = 0; i < GREETER_MAX_MESSAGES; i++)
		add(&st, i, "m");
	add(&e, 0, "in place");
	add(&e, GREETER_MAX_MESSAGES, "one too many");
	append(&b, CHANGE_SET, &e);
	assert_int_equal(change_log_replay(b.data, b.len, &st, &res), 0);
	assert_true(res.damaged);
	/* All or nothing: not even the change in place. */
	assert_string_equal(text_of(&st, 0), "m");
	assert_int_equal(st.count, GREETER_MAX_MESSAGES);
	greeter_entries_free(&st);
	greeter_entries_free(&e);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_torn_tail_dropped),
		cmocka_unit_test(test_bad_checksum_mid_file),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_replay_idempotent),
		cmocka_unit_test(test_set_past_capacity_not_applied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
