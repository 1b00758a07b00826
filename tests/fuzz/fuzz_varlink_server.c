// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A whole connection's byte stream, fed to a real varlink_server
 * (varlink/varlink_server.c) on a real sd-event loop, over a real Unix
 * socket. The server serves a toy interface, io.test, with plain, failing,
 * streaming and held-open ("more") methods.
 *
 * The input is the bytes the client sends, with 0xff as an escape:
 *
 *   0xff 0xff   a literal 0xff byte
 *   0xff '0'-'3' switch to client N (connecting it if it has no socket)
 *   0xff 'R'    the current client stops (or resumes) reading its replies
 *   0xff 'H'    the current client shuts down its writing side
 *   0xff 'C'    the current client closes its socket
 *   0xff 'E'    every held call gets an event (a reply with "continues")
 *   0xff 'F'    every held call ends with a last reply
 *   0xff 'X'    every held call ends with an error
 *   0xff 'S'    varlink_server_shutdown(); the rest of the input is ignored
 *   0xff other  a split point
 *
 * Before each escape, what came before it is written to the socket and the
 * loop runs until it is idle, so a split point decides what the server sees
 * in one read: messages cut anywhere, or several pipelined at once.
 *
 * Checked: everything the server sends is a NUL-terminated JSON object with
 * "parameters" (an object) or "error" (a string) and, if "continues", true;
 * every connection is gone once the clients have closed; every held call had
 * its on_close (or was ended); ASan/UBSan/LSan find nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "varlink_server.h"

#define N_CLIENTS	  4
#define N_HELD		  8
#define MAX_MESSAGE	  4096
#define STREAM_MAX_N	  64
#define STREAM_MAX_SIZE	  16384
#define REPLY_BUFFER_MAX  (1u << 20)
#define LOOP_ROUNDS	  100000
#define TEST_IDL	  "interface io.test\nmethod Echo() -> ()\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* log.h, without the noise: format (so bad formats show), print nothing. */
void log_init(bool verbose)
{
}

bool log_verbose(void)
{
	return false;
}

void log_at(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

struct held {
	struct varlink_call *call;
	int budget; /* replies still to send from on_drain */
	size_t size;
};

struct client {
	int fd;
	bool paused; /* not reading replies */
	char *buf;   /* replies received, not yet checked */
	size_t len;
};

static sd_event *loop;
static struct varlink_server *srv;
static struct held held[N_HELD];
static struct client clients[N_CLIENTS];
static struct sockaddr_un addr;
static socklen_t addr_len;

static cJSON *blob(size_t size)
{
	cJSON *o = cJSON_CreateObject();
	char *s = malloc(size + 1);

	if (s) {
		memset(s, 'b', size);
		s[size] = '\0';
		cJSON_AddStringToObject(o, "blob", s);
		free(s);
	}
	return o;
}

/* An integer parameter in [0, max], 0 if absent or not a number. */
static size_t param(const cJSON *p, const char *key, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
		return 0;
	return v->valuedouble > (double)max ? max : (size_t)v->valuedouble;
}

static void m_echo(struct varlink_call *c, const cJSON *p, void *userdata)
{
	/* Exercise the accessors too. */
	if (!varlink_call_peer(c) || !varlink_call_method(c))
		abort();
	(void)varlink_call_output_pending(c);
	varlink_call_reply(c, cJSON_Duplicate(p, true), false);
}

static void m_fail(struct varlink_call *c, const cJSON *p, void *userdata)
{
	varlink_call_error(c, "io.test.Failed", cJSON_Duplicate(p, true));
}

static void m_invalid(struct varlink_call *c, const cJSON *p, void *userdata)
{
	varlink_call_error_invalid_parameter(c, "x");
}

/* A handler that forgets to reply: the server answers for it. */
static void m_no_reply(struct varlink_call *c, const cJSON *p, void *userdata)
{
}

static void m_bad_continue(struct varlink_call *c, const cJSON *p, void *userdata)
{
	if (!varlink_call_more(c) && varlink_call_reply(c, NULL, true) != -EINVAL)
		abort();
	varlink_call_reply(c, NULL, false);
}

/* n replies with continues, each with a blob of size bytes, then a last one. */
static void m_stream(struct varlink_call *c, const cJSON *p, void *userdata)
{
	size_t n = param(p, "n", STREAM_MAX_N), size = param(p, "size", STREAM_MAX_SIZE);

	if (!varlink_call_more(c)) {
		varlink_call_error_expected_more(c);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (varlink_call_reply(c, blob(size), true) < 0)
			break;
	varlink_call_reply(c, NULL, false);
}

static void held_on_drain(struct varlink_call *c, void *userdata)
{
	struct held *h = userdata;

	if (h->call != c)
		abort();
	if (h->budget > 0) {
		h->budget--;
		varlink_call_reply(c, blob(h->size), true);
	}
}

static void held_on_close(struct varlink_call *c, void *userdata)
{
	struct held *h = userdata;

	if (h->call != c)
		abort();
	h->call = NULL;
}

/* Kept open like a watcher: replies come later, from E/F/X and on_drain. */
static void m_hold(struct varlink_call *c, const cJSON *p, void *userdata)
{
	struct held *h = NULL;

	if (!varlink_call_more(c)) {
		varlink_call_error_expected_more(c);
		return;
	}
	for (size_t i = 0; i < N_HELD && !h; i++)
		if (!held[i].call)
			h = &held[i];
	if (!h) {
		varlink_call_error(c, "io.test.Busy", NULL);
		return;
	}
	if (varlink_call_reply(c, NULL, true) < 0) {
		/* The connection is going away, but the call is still ours to end. */
		varlink_call_error(c, "io.test.Gone", NULL);
		return;
	}
	h->call = c;
	h->budget = (int)param(p, "burst", 16);
	h->size = param(p, "size", STREAM_MAX_SIZE);
	varlink_call_set_callbacks(c, h, held_on_drain, held_on_close);
}

static const struct varlink_method methods[] = {
	{"io.test.Echo", m_echo},
	{"io.test.Fail", m_fail},
	{"io.test.Invalid", m_invalid},
	{"io.test.NoReply", m_no_reply},
	{"io.test.BadContinue", m_bad_continue},
	{"io.test.Stream", m_stream},
	{"io.test.Hold", m_hold},
	{"io.other.Echo", m_echo},
};

static const struct varlink_server_options options = {
	.vendor = "Fuzz",
	.product = "fuzzd",
	.version = "1",
	.url = "https://example.org/",
	.interface_name = "io.test",
	.interface_description = TEST_IDL,
	.methods = methods,
	.n_methods = sizeof(methods) / sizeof(methods[0]),
	.max_connections = N_CLIENTS,
	.max_connections_per_uid = N_CLIENTS - 1, /* the fourth client is refused */
	.max_message_size = MAX_MESSAGE,
	.error_request_too_large = "io.test.RequestTooLarge",
	.error_too_many_connections = "io.test.TooManyConnections",
};

/* One message from the server: a JSON object a varlink client understands. */
static void check_reply(const char *msg, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(msg, len);
	const cJSON *p, *e, *more;

	if (!j || !cJSON_IsObject(j))
		abort();
	p = cJSON_GetObjectItemCaseSensitive(j, "parameters");
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	more = cJSON_GetObjectItemCaseSensitive(j, "continues");
	if (!cJSON_IsObject(p) && !e)
		abort();
	if (e && (!cJSON_IsString(e) || !*e->valuestring))
		abort();
	if (more && (!cJSON_IsTrue(more) || e))
		abort();
	cJSON_Delete(j);
}

static void client_check(struct client *cl)
{
	size_t start = 0;
	char *nul;

	while ((nul = memchr(cl->buf + start, 0, cl->len - start))) {
		check_reply(cl->buf + start, (size_t)(nul - (cl->buf + start)));
		start = (size_t)(nul - cl->buf) + 1;
	}
	memmove(cl->buf, cl->buf + start, cl->len - start);
	cl->len -= start;
}

/* Read and check what the server sent. Returns whether anything came. */
static bool client_read(struct client *cl)
{
	bool got = false;

	while (cl->fd >= 0 && !cl->paused) {
		ssize_t n;

		if (cl->len == REPLY_BUFFER_MAX)
			cl->len = 0; /* a reply larger than any we make: drop, cannot check */
		n = recv(cl->fd, cl->buf + cl->len, REPLY_BUFFER_MAX - cl->len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		cl->len += (size_t)n;
		got = true;
		client_check(cl);
	}
	return got;
}

/* Run the loop and let the clients read until neither has anything to do. */
static void settle(void)
{
	for (int i = 0; i < LOOP_ROUNDS; i++) {
		bool busy = sd_event_run(loop, 0) > 0;

		for (int k = 0; k < N_CLIENTS; k++)
			busy |= client_read(&clients[k]);
		if (!busy)
			return;
	}
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	cl->paused = false;
}

static void client_connect(struct client *cl)
{
	client_close(cl);
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cl->fd < 0)
		abort();
	if (connect(cl->fd, (struct sockaddr *)&addr, addr_len) < 0)
		abort();
	settle();
}

/* Write len bytes; what the server will not take (it stopped reading) is dropped. */
static void client_write(struct client *cl, const uint8_t *p, size_t len)
{
	int stuck = 0;

	while (len > 0 && cl->fd >= 0 && stuck < 3) {
		ssize_t n = send(cl->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_close(cl); /* EPIPE, ECONNRESET: the server hung up */
			return;
		}
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			stuck = 0;
		} else {
			stuck++;
		}
		settle();
	}
}

static void held_all(char what)
{
	for (size_t i = 0; i < N_HELD; i++) {
		struct varlink_call *c = held[i].call;

		if (!c)
			continue;
		if (what == 'E') {
			varlink_call_reply(c, blob(held[i].size), true);
			continue;
		}
		/* The call is freed by its last reply. */
		held[i].call = NULL;
		if (what == 'F')
			varlink_call_reply(c, NULL, false);
		else
			varlink_call_error(c, "io.test.Ended", NULL);
	}
}

/* Returns false when the rest of the input is to be ignored. */
static bool action(struct client **cur, uint8_t a)
{
	switch (a) {
	case '0':
	case '1':
	case '2':
	case '3':
		*cur = &clients[a - '0'];
		if ((*cur)->fd < 0)
			client_connect(*cur);
		break;
	case 'R':
		(*cur)->paused = !(*cur)->paused;
		break;
	case 'H':
		if ((*cur)->fd >= 0)
			shutdown((*cur)->fd, SHUT_WR);
		break;
	case 'C':
		client_close(*cur);
		break;
	case 'E':
	case 'F':
	case 'X':
		held_all((char)a);
		break;
	case 'S':
		varlink_server_shutdown(srv, 0);
		return false;
	default:
		break;
	}
	settle();
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	for (int k = 0; k < N_CLIENTS; k++) {
		clients[k].buf = malloc(REPLY_BUFFER_MAX);
		if (!clients[k].buf)
			abort();
	}
	return 0;
}

static void setup(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* Autobind: the kernel picks a free abstract address. */
	addr = (struct sockaddr_un){.sun_family = AF_UNIX};
	addr_len = sizeof(addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(sa_family_t)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0 || listen(fd, 16) < 0)
		abort();
	if (sd_event_new(&loop) < 0 || varlink_server_new(&srv, loop, &options) < 0 ||
	    varlink_server_listen_fd(srv, fd) < 0)
		abort();
	memset(held, 0, sizeof(held));
	for (int k = 0; k < N_CLIENTS; k++) {
		clients[k].fd = -1;
		clients[k].paused = false;
		clients[k].len = 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client *cur = &clients[0];
	uint8_t *chunk = malloc(size + 1);
	size_t n = 0;
	bool go = true;

	if (!chunk)
		return 0;
	setup();
	client_connect(cur);
	for (size_t i = 0; i < size && go; i++) {
		if (data[i] != 0xff) {
			chunk[n++] = data[i];
			continue;
		}
		if (i + 1 < size && data[i + 1] == 0xff) {
			chunk[n++] = 0xff;
			i++;
			continue;
		}
		client_write(cur, chunk, n);
		n = 0;
		settle();
		if (i + 1 < size)
			go = action(&cur, data[++i]);
	}
	if (go) {
		client_write(cur, chunk, n);
		settle();
	}
	free(chunk);

	/* The clients go away: so must every connection, and every held call. */
	for (int k = 0; k < N_CLIENTS; k++) {
		clients[k].paused = false;
		client_read(&clients[k]);
		client_close(&clients[k]);
	}
	settle();
	if (varlink_server_connection_count(srv) != 0)
		abort();
	for (size_t i = 0; i < N_HELD; i++)
		if (held[i].call)
			abort();
	varlink_server_free(srv);
	srv = NULL;
	loop = sd_event_unref(loop);
	return 0;
}
