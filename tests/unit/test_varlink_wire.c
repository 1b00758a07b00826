// SPDX-License-Identifier: LGPL-2.1-or-later
/* The varlink framer and output buffer, without any event loop. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "varlink_wire.h"

/* Take the next message, which must be expect. */
static void next_is(struct varlink_framer *f, const char *expect)
{
	const char *msg = NULL;
	size_t len = 0;

	assert_int_equal(varlink_framer_next(f, &msg, &len), VARLINK_FRAME_MESSAGE);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(msg, expect, len);
	assert_int_equal(msg[len], '\0');
}

static void next_none(struct varlink_framer *f)
{
	const char *msg;
	size_t len;

	assert_int_equal(varlink_framer_next(f, &msg, &len), VARLINK_FRAME_NEED_MORE);
}

static void test_framer_init(void **state)
{
	struct varlink_framer f;

	assert_int_equal(varlink_framer_init(&f, 0), -EINVAL);
	assert_int_equal(varlink_framer_init(&f, SIZE_MAX), -EINVAL);
	assert_int_equal(varlink_framer_init(&f, 100), 0);
	/* Nothing is allocated until input arrives. */
	assert_null(f.buf);
	next_none(&f);
	assert_int_equal(varlink_framer_buffered(&f), 0);
	varlink_framer_done(&f);
	varlink_framer_done(&f);
}

static void test_framer_pipelined(void **state)
{
	static const char in[] = "{\"a\":1}\0{\"b\":2}\0{\"c\":3}\0{\"d\"";
	struct varlink_framer f;

	assert_int_equal(varlink_framer_init(&f, 1024), 0);
	assert_int_equal(varlink_framer_feed(&f, in, sizeof(in) - 1), sizeof(in) - 1);
	next_is(&f, "{\"a\":1}");
	next_is(&f, "{\"b\":2}");
	next_is(&f, "{\"c\":3}");
	next_none(&f);
	assert_int_equal(varlink_framer_buffered(&f), 4);
	assert_int_equal(varlink_framer_feed(&f, ":4}", 4), 4);
	next_is(&f, "{\"d\":4}");
	next_none(&f);
	assert_int_equal(varlink_framer_buffered(&f), 0);
	varlink_framer_done(&f);
}

static void test_framer_bytewise(void **state)
{
	static const char in[] = "{\"method\":\"io.test.Echo\"}\0\0{}\0";
	struct varlink_framer f;
	int got = 0;

	assert_int_equal(varlink_framer_init(&f, 64), 0);
	for (size_t i = 0; i < sizeof(in) - 1; i++) {
		const char *msg;
		size_t len;
		int r;

		assert_int_equal(varlink_framer_feed(&f, in + i, 1), 1);
		r = varlink_framer_next(&f, &msg, &len);
		if (in[i] != '\0') {
			assert_int_equal(r, VARLINK_FRAME_NEED_MORE);
			continue;
		}
		assert_int_equal(r, VARLINK_FRAME_MESSAGE);
		if (got == 0)
			assert_string_equal(msg, "{\"method\":\"io.test.Echo\"}");
		else if (got == 1)
			assert_int_equal(len, 0);
		else
			assert_string_equal(msg, "{}");
		got++;
	}
	assert_int_equal(got, 3);
	next_none(&f);
	varlink_framer_done(&f);
}

static void test_framer_nul_only(void **state)
{
	struct varlink_framer f;

	assert_int_equal(varlink_framer_init(&f, 4), 0);
	assert_int_equal(varlink_framer_feed(&f, "\0\0\0", 3), 3);
	for (int i = 0; i < 3; i++)
		next_is(&f, "");
	next_none(&f);
	varlink_framer_done(&f);
}

static void test_framer_too_large(void **state)
{
	struct varlink_framer f;
	const char *msg;
	size_t len;

	/* Exactly the limit is fine. */
	assert_int_equal(varlink_framer_init(&f, 8), 0);
	assert_int_equal(varlink_framer_feed(&f, "12345678", 9), 9);
	next_is(&f, "12345678");
	/* One byte over: the buffer fills and the framer says so. */
	assert_int_equal(varlink_framer_feed(&f, "123456789", 9), 9);
	assert_true(varlink_framer_full(&f));
	assert_int_equal(varlink_framer_feed(&f, "x", 1), 0);
	assert_int_equal(varlink_framer_next(&f, &msg, &len), -EMSGSIZE);
	assert_int_equal(varlink_framer_next(&f, &msg, &len), -EMSGSIZE);
	varlink_framer_done(&f);

	/* Found only after the bytes trickle in one at a time. */
	assert_int_equal(varlink_framer_init(&f, 8), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(varlink_framer_feed(&f, "a", 1), 1);
		next_none(&f);
	}
	assert_int_equal(varlink_framer_feed(&f, "a", 1), 1);
	assert_int_equal(varlink_framer_next(&f, &msg, &len), -EMSGSIZE);
	varlink_framer_done(&f);
}

/* A full buffer takes more input once messages are taken out. */
static void test_framer_full_then_drained(void **state)
{
	struct varlink_framer f;
	char in[20];

	memcpy(in, "abc\0def\0ghi\0jkl\0mno\0", 20);
	assert_int_equal(varlink_framer_init(&f, 7), 0);
	assert_int_equal(varlink_framer_feed(&f, in, 20), 8);
	assert_true(varlink_framer_full(&f));
	next_is(&f, "abc");
	next_is(&f, "def");
	next_none(&f);
	assert_int_equal(varlink_framer_feed(&f, in + 8, 12), 8);
	next_is(&f, "ghi");
	next_is(&f, "jkl");
	assert_int_equal(varlink_framer_feed(&f, in + 16, 4), 4);
	next_is(&f, "mno");
	next_none(&f);
	varlink_framer_done(&f);
}

/* Many messages of random sizes in random chunks, through space/commit. */
static void test_framer_random(void **state)
{
	enum {
		N = 2000,
		MAX = 3000
	};
	size_t total = 0, pos = 0, want = 0;
	struct varlink_framer f;
	size_t *lens = calloc(N, sizeof(*lens));
	char *stream;

	assert_non_null(lens);
	srand(42);
	for (int i = 0; i < N; i++) {
		lens[i] = (size_t)(rand() % MAX);
		total += lens[i] + 1;
	}
	stream = malloc(total);
	assert_non_null(stream);
	for (int i = 0; i < N; i++) {
		for (size_t j = 0; j < lens[i]; j++)
			stream[pos++] = (char)('a' + (i + j) % 26);
		stream[pos++] = '\0';
	}
	assert_int_equal(varlink_framer_init(&f, MAX), 0);
	pos = 0;
	while (want < N) {
		const char *msg;
		size_t len;
		char *space;
		ssize_t room = varlink_framer_space(&f, &space);
		size_t n = (size_t)(rand() % 5000) + 1;
		int r;

		assert_true(room >= 0);
		if (n > (size_t)room)
			n = (size_t)room;
		if (n > total - pos)
			n = total - pos;
		memcpy(space, stream + pos, n);
		varlink_framer_commit(&f, n);
		pos += n;
		while ((r = varlink_framer_next(&f, &msg, &len)) == VARLINK_FRAME_MESSAGE) {
			assert_int_equal(len, lens[want]);
			for (size_t j = 0; j < len; j++)
				assert_int_equal(msg[j], (char)('a' + (want + j) % 26));
			want++;
		}
		assert_int_equal(r, VARLINK_FRAME_NEED_MORE);
		/* Never more than one message and its NUL. */
		assert_true(f.cap <= MAX + 1);
	}
	assert_int_equal(pos, total);
	varlink_framer_done(&f);
	free(stream);
	free(lens);
}

static void test_utf8(void **state)
{
	assert_true(varlink_utf8_valid("", 0));
	assert_true(varlink_utf8_valid("plain", 5));
	assert_true(varlink_utf8_valid("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	assert_false(varlink_utf8_valid("\xff", 1));
	assert_false(varlink_utf8_valid("\xc3", 1)); /* truncated */
	assert_false(varlink_utf8_valid("\xc0\xaf", 2)); /* overlong */
	assert_false(varlink_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(varlink_utf8_valid("ok\xe2\x82", 4));
}

static void find_nul(const char *json, bool found, int member, int sub)
{
	int m = 99, s = 99;

	assert_int_equal(varlink_json_find_escaped_nul(json, strlen(json), &m, &s), found);
	assert_int_equal(m, member);
	assert_int_equal(s, sub);
}

static void test_escaped_nul(void **state)
{
	find_nul("{\"method\":\"a.B\"}", false, -1, -1);
	find_nul("{\"a\":\"\\\\u0000\"}", false, -1, -1);
	find_nul("{\"a\":\"\\u0001\"}", false, -1, -1);
	find_nul("{\"a\":\"\\u0000\"}", true, 0, -1);
	find_nul("{\"a\":1, \"b\" : {\"c\":2,\"d\":\"x\\u0000\"}}", true, 1, 1);
	find_nul("{\"a\":1,\"b\":{\"c\":[\"\\u0000\"]}}", true, 1, 0);
	find_nul("{\"a\":{\"x\":{\"y\":1}},\"b\":{\"c\":{\"\\u0000\":1}}}", true, 1, 0);
	find_nul("{\"a\\u0000\":1}", true, 0, -1);
	find_nul("[\"\\u0000\"]", true, -1, -1);
	/* Garbage must not make it read out of bounds. */
	find_nul("\"\\u0000", true, -1, -1);
	find_nul("\"abc\\u000", false, -1, -1);
	find_nul("}}]]\"\\u0000", true, -1, -1);
}

static void test_outbuf_json(void **state)
{
	static const char one[] = "{\"error\":\"x.Y\",\"n\":3}"; /* sizeof counts the NUL */
	struct varlink_outbuf o;
	cJSON *obj = cJSON_CreateObject();

	cJSON_AddStringToObject(obj, "error", "x.Y");
	cJSON_AddNumberToObject(obj, "n", 3);
	varlink_outbuf_init(&o, 1024);
	assert_int_equal(varlink_outbuf_pending(&o), 0);
	assert_int_equal(varlink_outbuf_append_json(&o, obj), 0);
	assert_int_equal(varlink_outbuf_append_json(&o, obj), 0);
	assert_int_equal(varlink_outbuf_pending(&o), 2 * sizeof(one));
	assert_memory_equal(varlink_outbuf_data(&o), one, sizeof(one));
	varlink_outbuf_consume(&o, sizeof(one));
	assert_int_equal(varlink_outbuf_pending(&o), sizeof(one));
	assert_memory_equal(varlink_outbuf_data(&o), one, sizeof(one));
	/* Half sent, the buffer is still held whole; all sent, nothing is. */
	assert_true(varlink_outbuf_held(&o) >= 2 * sizeof(one));
	varlink_outbuf_consume(&o, 1000);
	assert_int_equal(varlink_outbuf_pending(&o), 0);
	assert_int_equal(varlink_outbuf_held(&o), 0);
	/* Over the limit: refused whole, nothing half-queued. */
	varlink_outbuf_done(&o);
	varlink_outbuf_init(&o, sizeof(one) + 3);
	assert_int_equal(varlink_outbuf_append_json(&o, obj), 0);
	assert_int_equal(varlink_outbuf_append_json(&o, obj), -ENOBUFS);
	assert_int_equal(varlink_outbuf_pending(&o), sizeof(one));
	cJSON_Delete(obj);
	varlink_outbuf_done(&o);
}

static void test_outbuf_limit(void **state)
{
	struct varlink_outbuf o;
	char big[100];

	memset(big, 'x', sizeof(big));
	varlink_outbuf_init(&o, 250);
	assert_int_equal(varlink_outbuf_append(&o, big, 100), 0);
	assert_int_equal(varlink_outbuf_append(&o, big, 100), 0);
	assert_int_equal(varlink_outbuf_append(&o, big, 100), -ENOBUFS);
	assert_int_equal(varlink_outbuf_append(&o, big, 50), 0);
	assert_int_equal(varlink_outbuf_append(&o, big, 1), -ENOBUFS);
	/* Room comes back as bytes are sent; data moves to the front. */
	varlink_outbuf_consume(&o, 120);
	assert_int_equal(varlink_outbuf_append(&o, "abc", 3), 0);
	assert_int_equal(varlink_outbuf_pending(&o), 133);
	assert_memory_equal(varlink_outbuf_data(&o) + 130, "abc", 3);
	assert_int_equal(varlink_outbuf_append(&o, big, SIZE_MAX), -ENOBUFS);
	varlink_outbuf_done(&o);
}

static void test_outbuf_flush(void **state)
{
	struct varlink_outbuf o;
	int sv[2], sz = 4096;
	char buf[65536];
	size_t got = 0;
	char *chunk = malloc(100000);

	assert_non_null(chunk);
	memset(chunk, 'q', 100000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	varlink_outbuf_init(&o, 1 << 20);
	assert_int_equal(varlink_outbuf_flush(&o, sv[0]), 0);
	assert_int_equal(varlink_outbuf_append(&o, chunk, 100000), 0);
	/* More than the socket takes: would block, keeps the rest. */
	assert_int_equal(varlink_outbuf_flush(&o, sv[0]), -EAGAIN);
	assert_true(varlink_outbuf_pending(&o) > 0);
	while (got < 100000) {
		ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
		int r;

		if (n > 0) {
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(buf[i], 'q');
			got += (size_t)n;
		}
		r = varlink_outbuf_flush(&o, sv[0]);
		assert_true(r == 0 || r == -EAGAIN);
	}
	assert_int_equal(got, 100000);
	assert_int_equal(varlink_outbuf_pending(&o), 0);

	/* A vanished peer is an error, not a SIGPIPE. */
	close(sv[1]);
	assert_int_equal(varlink_outbuf_append(&o, "x", 1), 0);
	assert_int_equal(varlink_outbuf_flush(&o, sv[0]), -EPIPE);
	close(sv[0]);
	varlink_outbuf_done(&o);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_init),
		cmocka_unit_test(test_framer_pipelined),
		cmocka_unit_test(test_framer_bytewise),
		cmocka_unit_test(test_framer_nul_only),
		cmocka_unit_test(test_framer_too_large),
		cmocka_unit_test(test_framer_full_then_drained),
		cmocka_unit_test(test_framer_random),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_escaped_nul),
		cmocka_unit_test(test_outbuf_json),
		cmocka_unit_test(test_outbuf_limit),
		cmocka_unit_test(test_outbuf_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
