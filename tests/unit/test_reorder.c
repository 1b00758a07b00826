// SPDX-License-Identifier: LGPL-2.1-or-later
/* reorder: events leave in strictly increasing sequence order, gaps as losses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reorder.h"

#define OUT_MAX 4096

struct out {
	uint64_t seq[OUT_MAX];
	size_t n;
};

static struct reorder order;

static void collect(const struct greeter_event *e, uint64_t ring_pos, void *ctx)
{
	struct out *o = ctx;

	assert_true(o->n < OUT_MAX);
	o->seq[o->n++] = e->seq;
}

static void push(struct out *o, uint64_t seq, uint64_t ring_pos)
{
	struct greeter_event e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	reorder_push(&order, &e, ring_pos, collect, o);
}

static void expect_seqs(const struct out *o, const uint64_t *want, size_t n)
{
	assert_int_equal(o->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(o->seq[i], want[i]);
}

static int setup(void **state)
{
	reorder_init(&order);
	return 0;
}

static void test_in_order_passes_at_once(void **state)
{
	static const uint64_t want[] = { 5, 6, 7 };
	struct out o = { 0 };

	/* The first event's number is not known to be the next until settled. */
	push(&o, 5, 0);
	assert_int_equal(o.n, 0);
	reorder_settle(&order, collect, &o);
	push(&o, 6, 400);
	push(&o, 7, 800);
	expect_seqs(&o, want, 3);
	assert_int_equal(order.gaps, 0);
	assert_int_equal(order.late, 0);
}

static void test_inversion_put_back(void **state)
{
	static const uint64_t want[] = { 1, 2, 3, 4, 5, 6 };
	struct out o = { 0 };
	uint64_t pos;

	push(&o, 1, 0);
	reorder_settle(&order, collect, &o);
	/* Two CPUs: 3 reserved after 2 but numbered first, and 6 before 5 and 4. */
	push(&o, 3, 400);
	assert_int_equal(o.n, 1);
	assert_true(reorder_oldest_pos(&order, &pos));
	assert_int_equal(pos, 400);
	push(&o, 2, 800);
	push(&o, 6, 1200);
	push(&o, 5, 1600);
	push(&o, 4, 2000);
	expect_seqs(&o, want, 6);
	assert_false(reorder_oldest_pos(&order, &pos));
	assert_int_equal(order.gaps, 0);
	assert_int_equal(order.late, 0);
}

static void test_gap_waits_until_settled(void **state)
{
	static const uint64_t want[] = { 10, 12, 13 };
	struct out o = { 0 };

	push(&o, 10, 0);
	reorder_settle(&order, collect, &o);
	/* 11 may still be a busy record: 12 and 13 wait for it. */
	push(&o, 12, 400);
	push(&o, 13, 800);
	assert_int_equal(o.n, 1);
	/* Caught up with the producer and 11 never came: the kernel lost it. */
	reorder_settle(&order, collect, &o);
	expect_seqs(&o, want, 3);
	assert_int_equal(order.gaps, 1);
	/* It cannot come any more; if it did, it would be dropped, not sent late. */
	push(&o, 11, 1200);
	assert_int_equal(o.n, 3);
	assert_int_equal(order.late, 1);
}

static void test_duplicates_dropped(void **state)
{
	static const uint64_t want[] = { 1, 2, 3 };
	struct out o = { 0 };

	push(&o, 1, 0);
	push(&o, 1, 0);
	reorder_settle(&order, collect, &o);
	push(&o, 3, 800);
	push(&o, 3, 800);
	push(&o, 2, 400);
	push(&o, 2, 400);
	expect_seqs(&o, want, 3);
	assert_int_equal(order.late, 3);
}

static void test_held_bounded(void **state)
{
	struct out o = { 0 };

	push(&o, 1, 0);
	reorder_settle(&order, collect, &o);
	/* 2 never comes: once REORDER_MAX are held, the gap is a loss. */
	for (uint64_t s = 3; s < 3 + REORDER_MAX; s++)
		push(&o, s, s * 400);
	assert_int_equal(o.n, 1);
	push(&o, 3 + REORDER_MAX, (3 + REORDER_MAX) * 400);
	/* 1, then 3 onwards: the rest follows 3 without a gap. */
	assert_int_equal(o.n, 2 + REORDER_MAX);
	assert_int_equal(o.seq[1], 3);
	assert_int_equal(order.gaps, 1);
	assert_int_equal(order.len, 0);
	for (size_t i = 2; i < o.n; i++)
		assert_int_equal(o.seq[i], o.seq[i - 1] + 1);
	/* Full, and the newcomer is the lowest: it goes first, then the rest. */
	for (uint64_t s = 2001; s <= 2000 + REORDER_MAX; s++)
		push(&o, s, s * 400);
	push(&o, 2000, 0);
	assert_int_equal(o.n, 3 + 2 * REORDER_MAX);
	assert_int_equal(order.gaps, 1 + 2000 - (4 + REORDER_MAX));
	assert_int_equal(o.seq[o.n - 1 - REORDER_MAX], 2000);
	assert_int_equal(o.seq[o.n - 1], 2000 + REORDER_MAX);
	assert_int_equal(order.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_in_order_passes_at_once, setup),
		cmocka_unit_test_setup(test_inversion_put_back, setup),
		cmocka_unit_test_setup(test_gap_waits_until_settled, setup),
		cmocka_unit_test_setup(test_duplicates_dropped, setup),
		cmocka_unit_test_setup(test_held_bounded, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
