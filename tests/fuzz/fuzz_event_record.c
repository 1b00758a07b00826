// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * event_record_decode() (daemon/eventlog/event_record.c) on hostile ring records,
 * then greeter_args_text() (common/args_text.c) on what it made. Input: one
 * byte choosing the ABI (its value modulo 6: 0 and 5 unknown, 1 and 2 the
 * fixed layout, 3 the variable one, 4 the one with exec ids and exits),
 * then the record, copied to a buffer of exactly its size so that ASan sees
 * a read past it.
 *
 * Oracles: the outcome against a reference (a v3 or v4 record decodes
 * exactly when the header fits, its kind is known and its lengths add up
 * within the record); every
 * string NUL-terminated within its buffer; the arguments as many as
 * args_count, within args_len, at most GREETER_ARGS_MAX, each a prefix-free
 * cut of the record's bytes; args_text never cut at its documented size,
 * and a prefix of that when cut at a smaller one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_text.h"
#include "event_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct greeter_event ev;
static char text[GREETER_ARGS_TEXT_SIZE(GREETER_ARGS_SIZE)];

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__);          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Where a v3 or v4 record's arguments start, and how long they are; false: it does not fit. */
static bool args_at(const uint8_t *rec, size_t size, unsigned abi, size_t *off, size_t *len)
{
	struct greeter_record_v3 r3;
	struct greeter_record r;

	if (abi == 3) {
		if (size < sizeof(r3))
			return false;
		memcpy(&r3, rec, sizeof(r3));
		*off = sizeof(r3) + (size_t)r3.comm_len + r3.message_len + r3.unit_len +
		       r3.filename_len;
		*len = r3.args_len;
		return *off + *len <= size;
	}
	if (size < sizeof(r))
		return false;
	memcpy(&r, rec, sizeof(r));
	*off = sizeof(r) + (size_t)r.comm_len + r.message_len + r.unit_len + r.filename_len +
	       r.parent_comm_len + r.parent_file_len;
	*len = r.args_len;
	return r.kind <= GREETER_KIND_EXIT && *off + *len <= size;
}

static int ref_outcome(const uint8_t *rec, size_t size, unsigned abi)
{
	size_t off, len;

	if (abi == 1 || abi == 2)
		return size >= sizeof(struct greeter_event_v2) ? 0 : -EBADMSG;
	if (abi != 3 && abi != 4)
		return -EPROTO;
	return args_at(rec, size, abi, &off, &len) ? 0 : -EBADMSG;
}

static void check_args(const uint8_t *rec, size_t size, unsigned abi)
{
	const char *in, *a;
	size_t count = 0, in_len, pos = 0, n, full, off, args_len;

	if (!(ev.flags & GREETER_EVENT_ARGS)) {
		CHECK(ev.args_count == 0);
		return;
	}
	CHECK(args_at(rec, size, abi, &off, &args_len));
	in = (const char *)rec + off;
	in_len = args_len < GREETER_ARGS_SIZE ? args_len : GREETER_ARGS_SIZE;
	CHECK(ev.args_count <= GREETER_ARGS_MAX);
	CHECK(ev.args_len <= GREETER_ARGS_SIZE + 1);
	for (a = event_next_arg(&ev, NULL); a; a = event_next_arg(&ev, a)) {
		size_t len = strlen(a);

		CHECK(a + len < ev.args + ev.args_len);
		/* The record's bytes, in order: the argument, then its NUL (or the end). */
		CHECK(pos + len <= in_len && memcmp(in + pos, a, len) == 0);
		CHECK(pos + len == in_len || in[pos + len] == '\0');
		pos += len + 1;
		count++;
	}
	CHECK(count == ev.args_count);
	/* What was not kept says so. */
	if (pos < in_len || args_len > GREETER_ARGS_SIZE)
		CHECK(ev.flags & GREETER_EVENT_ARGS_TRUNCATED);

	full = greeter_args_text(text, sizeof(text), ev.args, ev.args_count);
	CHECK(full < sizeof(text) && text[full] == '\0');
	/* Every argument is written: at least "" or one byte each, and the separators. */
	CHECK(!ev.args_count || full >= 2 * ev.args_count - 1);
	/* A smaller buffer: a prefix, NUL-terminated. */
	n = size % (full + 2);
	{
		char *small = malloc(n ? n : 1);
		size_t got;

		CHECK(small);
		got = greeter_args_text(small, n, ev.args, ev.args_count);
		if (n) {
			CHECK(got < n && small[got] == '\0');
			CHECK(memcmp(small, text, got) == 0);
			/* Cut between arguments: what follows in the full text is a space. */
			CHECK(got == full || text[got] == ' ' || got == 0);
		} else {
			CHECK(got == 0);
		}
		free(small);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned abi;
	uint8_t *rec;
	int r;

	if (size < 1)
		return 0;
	abi = data[0] % 6;
	size--;
	rec = malloc(size ? size : 1);
	if (!rec)
		return 0;
	memcpy(rec, data + 1, size);
	memset(&ev, 0x5a, sizeof(ev));
	r = event_record_decode(rec, size, abi, &ev);
	CHECK(r == ref_outcome(rec, size, abi));
	if (r == 0) {
		CHECK(memchr(ev.comm, '\0', sizeof(ev.comm)));
		CHECK(memchr(ev.filename, '\0', sizeof(ev.filename)));
		CHECK(memchr(ev.message, '\0', sizeof(ev.message)));
		CHECK(memchr(ev.unit, '\0', sizeof(ev.unit)));
		CHECK(memchr(ev.parent_comm, '\0', sizeof(ev.parent_comm)));
		CHECK(memchr(ev.parent_file, '\0', sizeof(ev.parent_file)));
		CHECK(ev.kind <= GREETER_KIND_EXIT);
		if (abi == 3 || abi == 4)
			check_args(rec, size, abi);
		else
			CHECK(ev.args_count == 0 && !(ev.flags & GREETER_EVENT_ARGS));
	}
	free(rec);
	return 0;
}
