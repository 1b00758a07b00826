// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * varlink/varlink_wire.c against simple models:
 *   - the framer, fed in chunks through both feed() and space()/commit(),
 *     returns exactly the NUL-separated messages of the stream, and
 *     -EMSGSIZE exactly when one is longer than the limit;
 *   - the output buffer is a bounded FIFO, also when flushed to a socket;
 *   - varlink_utf8_valid() agrees with a reference UTF-8 validator;
 *   - varlink_json_find_escaped_nul() finds a "\u0000" in valid JSON exactly
 *     when there is one, and names the member that holds it;
 *   - valid JSON queued with varlink_outbuf_append_json() (greeter_json_print(),
 *     common/json_print.c) reads back the same, integers exactly.
 *
 * Input: byte 0 picks the message limit (1 to 128, or 4096 when its top bit
 * is set), byte 1 seeds the chunk sizes and operations, the rest is the
 * stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_ref.h"
#include "varlink_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int pair[2] = {-1, -1};

static uint32_t next_rand(uint32_t *state)
{
	/* xorshift32: reproducible, and cheap. */
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static void check_framer(const uint8_t *s, size_t len, size_t max, uint32_t rng)
{
	struct varlink_framer f;
	size_t fed = 0, ref = 0; /* bytes given to the framer; start of the next message */
	int stalls = 0;

	if (varlink_framer_init(&f, max) < 0)
		abort();
	for (;;) {
		const uint8_t *nul;
		const char *msg;
		size_t mlen, want;
		ssize_t took;
		int r;

		/* Take out every complete message. */
		for (;;) {
			nul = memchr(s + ref, 0, fed - ref);
			r = varlink_framer_next(&f, &msg, &mlen);
			if (r != VARLINK_FRAME_MESSAGE)
				break;
			if (!nul || mlen != (size_t)(nul - (s + ref)) || mlen > max ||
			    memcmp(msg, s + ref, mlen) != 0 || msg[mlen] != '\0')
				abort();
			ref += mlen + 1;
			stalls = 0;
		}
		if (r == -EMSGSIZE) {
			/* Only when the buffer is full of one message without its NUL. */
			if (nul || fed - ref < max + 1 || !varlink_framer_full(&f))
				abort();
			if (varlink_framer_next(&f, &msg, &mlen) != -EMSGSIZE)
				abort();
			break;
		}
		if (r != VARLINK_FRAME_NEED_MORE || nul || fed - ref > max)
			abort();
		if (varlink_framer_buffered(&f) != fed - ref ||
		    varlink_framer_full(&f) != (fed - ref >= max + 1))
			abort();
		if (fed == len)
			break;

		want = 1 + next_rand(&rng) % (2 * max + 8);
		if (want > len - fed)
			want = len - fed;
		if (next_rand(&rng) & 1) {
			took = varlink_framer_feed(&f, s + fed, want);
		} else {
			char *space;
			ssize_t room = varlink_framer_space(&f, &space);

			/* The room at the end of the buffer: no room only when full. */
			if (room < 0 || (room == 0) != varlink_framer_full(&f))
				abort();
			took = room < (ssize_t)want ? room : (ssize_t)want;
			if (took > 0)
				memcpy(space, s + fed, (size_t)took);
			varlink_framer_commit(&f, (size_t)took);
			if (took < (ssize_t)want && took == room && room > 0)
				want = (size_t)took; /* it took all it offered */
		}
		/* Less than offered only when full. */
		if (took < 0 || ((size_t)took < want && !varlink_framer_full(&f)))
			abort();
		fed += (size_t)took;
		if (took == 0 && ++stalls > 1)
			abort(); /* full, yet no message and no error came out */
	}
	varlink_framer_done(&f);
}

static void check_pending(const struct varlink_outbuf *o, const uint8_t *model, size_t n)
{
	if (varlink_outbuf_pending(o) != n || (n && memcmp(varlink_outbuf_data(o), model, n) != 0))
		abort();
}

static void check_outbuf(const uint8_t *s, size_t len, size_t max, uint32_t rng)
{
	size_t limit = max * 4 + next_rand(&rng) % 64, n = 0, pos = 0;
	uint8_t *model = malloc(limit + 1);
	static uint8_t sock[1 << 17]; /* more than the socket and the buffer hold */
	struct varlink_outbuf o;

	if (!model)
		abort();
	varlink_outbuf_init(&o, limit);
	while (pos < len) {
		uint32_t op = next_rand(&rng) % 8;
		size_t k = 1 + next_rand(&rng) % (limit + 8), got;
		ssize_t m;
		int r;

		if (op < 4) {
			if (k > len - pos)
				k = len - pos;
			r = varlink_outbuf_append(&o, s + pos, k);
			if (n + k > limit) {
				if (r != -ENOBUFS)
					abort();
			} else {
				if (r != 0)
					abort();
				memcpy(model + n, s + pos, k);
				n += k;
			}
			pos += k;
		} else if (op < 7) {
			varlink_outbuf_consume(&o, k);
			k = k < n ? k : n;
			memmove(model, model + k, n - k);
			n -= k;
		} else {
			/* The socket may take less than everything: what it took comes out in order. */
			r = varlink_outbuf_flush(&o, pair[0]);
			if (r != 0 && r != -EAGAIN)
				abort();
			got = 0;
			while ((m = recv(pair[1], sock + got, sizeof(sock) - got, MSG_DONTWAIT)) > 0)
				got += (size_t)m;
			if (got > n || memcmp(sock, model, got) != 0 || (r == 0 && got != n))
				abort();
			memmove(model, model + got, n - got);
			n -= got;
		}
		check_pending(&o, model, n);
	}
	varlink_outbuf_done(&o);
	free(model);
}

/* In valid JSON, backslashes occur in strings only: an escape is one preceded
 * by an even number of them. Returns the offset of the first, or -1. */
static ssize_t ref_find_escaped_nul(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t b = 0;

		if (memcmp(s + i, "\\u0000", 6) != 0)
			continue;
		while (b < i && s[i - 1 - b] == '\\')
			b++;
		if (b % 2 == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Whether a string (a member name or a value) in j holds a 0x01 character. */
static bool has_marker(const cJSON *j)
{
	const cJSON *c;

	if (j->string && strchr(j->string, 1))
		return true;
	if (cJSON_IsString(j) && strchr(j->valuestring, 1))
		return true;
	cJSON_ArrayForEach(c, j)
		if (has_marker(c))
			return true;
	return false;
}

/*
 * Which member (and member of its object value) holds the escape at offset
 * at: made "\u0001" instead, where cJSON does not cut it short, and looked
 * for. Returns false if that cannot be told (the text has other 0x01).
 */
static bool ref_culprit(const char *text, size_t len, size_t at, int *member, int *sub)
{
	char *copy;
	cJSON *root;
	const cJSON *m, *c, *obj;
	bool ok = false;
	int i = 0, k;

	if (memchr(text, 1, len) || memmem(text, len, "\\u0001", 6))
		return false;
	copy = strdup(text);
	if (!copy)
		abort();
	copy[at + 5] = '1';
	root = cJSON_Parse(copy);
	*member = *sub = -1;
	obj = cJSON_IsObject(root) ? root : NULL;
	cJSON_ArrayForEach(m, obj)
	{
		if (has_marker(m)) {
			*member = i;
			k = 0;
			obj = cJSON_IsObject(m) ? m : NULL;
			cJSON_ArrayForEach(c, obj)
			{
				if (has_marker(c))
					*sub = k;
				k++;
			}
			ok = true;
			break;
		}
		i++;
	}
	cJSON_Delete(root);
	free(copy);
	return ok;
}

/*
 * Integers up to 2^53 must come back exactly (greeter_json_print()'s
 * promise); other numbers as cJSON prints them: it settles for 15 digits
 * when they read back within an epsilon, so the last bit may differ.
 */
static bool same_number(double a, double b)
{
	if (floor(a) == a && fabs(a) <= 9007199254740992.0)
		return a == b;
	return fabs(a - b) <= fabs(a) * 4 * DBL_EPSILON;
}

/* a and b are the same JSON: same types, names, strings and numbers. */
static bool same_json(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;

	if ((a->type & 0xff) != (b->type & 0xff))
		return false;
	if ((a->string || b->string) &&
	    (!a->string || !b->string || strcmp(a->string, b->string) != 0))
		return false;
	if (cJSON_IsString(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsNumber(a))
		return same_number(a->valuedouble, b->valuedouble);
	for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
		if (!same_json(x, y))
			return false;
	return !x && !y;
}

/* Whether j holds a number JSON cannot carry (cJSON prints null for it). */
static bool has_infinity(const cJSON *j)
{
	const cJSON *c;

	if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
		return true;
	cJSON_ArrayForEach(c, j)
		if (has_infinity(c))
			return true;
	return false;
}

/* Printed (as replies are) and parsed back, root is itself. */
static void check_print(const cJSON *root)
{
	struct varlink_outbuf o;
	cJSON *back;
	size_t n;

	if (has_infinity(root))
		return;
	varlink_outbuf_init(&o, 1u << 24);
	if (varlink_outbuf_append_json(&o, root) != 0)
		abort();
	n = varlink_outbuf_pending(&o);
	if (n == 0 || varlink_outbuf_data(&o)[n - 1] != '\0' ||
	    memchr(varlink_outbuf_data(&o), 0, n - 1))
		abort();
	back = cJSON_ParseWithLengthOpts(varlink_outbuf_data(&o), n, NULL, true);
	if (!back || !same_json(root, back))
		abort();
	cJSON_Delete(back);
	varlink_outbuf_done(&o);
}

static void check_escaped_nul(const uint8_t *s, size_t len)
{
	char *text;
	cJSON *root;
	int member, sub;
	bool found = varlink_json_find_escaped_nul((const char *)s, len, &member, &sub);

	if (memchr(s, 0, len) || !varlink_utf8_valid((const char *)s, len))
		return;
	/* Parsed as the server does: NUL-terminated, nothing after the value. */
	text = malloc(len + 1);
	if (!text)
		abort();
	memcpy(text, s, len);
	text[len] = '\0';
	root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, true);
	if (root) {
		ssize_t at = ref_find_escaped_nul(s, len);
		int ref_member, ref_sub;

		if (found != (at >= 0))
			abort();
		/* The member named is the one holding the first such escape. */
		if (found && cJSON_IsObject(root) &&
		    ref_culprit(text, len, (size_t)at, &ref_member, &ref_sub) &&
		    (member != ref_member || sub != ref_sub))
			abort();
		if (!found)
			check_print(root);
	}
	cJSON_Delete(root);
	free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int small = 4096;

	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
		abort();
	/* A small socket buffer, so that flushes stop half way. */
	setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max;
	uint32_t rng;

	if (size < 2)
		return 0;
	max = data[0] & 0x80 ? 4096 : 1 + (size_t)(data[0] & 0x7f);
	rng = (uint32_t)data[1] * 2654435761u + 1;
	data += 2;
	size -= 2;

	if (varlink_utf8_valid((const char *)data, size) != ref_utf8_valid(data, size))
		abort();
	check_escaped_nul(data, size);
	check_framer(data, size, max, rng);
	check_outbuf(data, size, max, rng);
	return 0;
}
