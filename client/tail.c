// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl tail: follow WatchEvents, and outlive greeterd restarts by
 * reconnecting and resuming after the last event shown.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "greeterctl.h"
#include "varlink_client.h"
#include "io.greeter.varlink.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000
/* With --host each try is an ssh login on the other host: fewer of them. */
#define BACKOFF_MAX_REMOTE_MS 5000

/* Besides exit statuses: what the event loop does next. */
enum {
	TAIL_CONTINUE = -2, /* keep reading */
	TAIL_LOST = -1, /* the connection is gone: make another */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = 1;
}

/*
 * Wait until fd is readable (fd < 0: only sleep), timeout_ms passes (< 0:
 * none) or SIGINT/SIGTERM arrives. The signals are held from the check of
 * stop_requested until ppoll() waits, so none slips in between; elsewhere
 * they stay deliverable, so that a write stuck on a full pipe is cut short.
 */
static void wait_or_stop(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = timeout_ms / 1000,
			       .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	sigset_t stop_signals, old;

	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_signals, &old);
	if (!stop_requested)
		ppoll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, timeout_ms >= 0 ? &ts : NULL, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

struct tail {
	const struct ctl_options *o;
	/* The last sequence number shown, or the first state's: resume after it. */
	bool have_last;
	uint64_t last_seq;
	unsigned long long shown;
	bool header_shown;
	/* "connection lost" said and no state reply since. */
	bool lost_announced;
	/* The stream last_seq belongs to, as greeterd names it; "" before the first. */
	char stream[33];
};

/* Each event must reach a pipe reader at once. Returns TAIL_CONTINUE or an exit status. */
static int flush_output(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return TAIL_CONTINUE;
	/* Interrupted while stuck on a full pipe: still a clean stop; drop the rest. */
	if (stop_requested) {
		__fpurge(stdout);
		clearerr(stdout);
		return EXIT_OK;
	}
	/* The reader went away (greeterctl tail | head): nothing left to do. */
	if (errno == EPIPE)
		return EXIT_OK;
	fprintf(stderr, "greeterctl: cannot write to standard output: %s\n", strerror(errno));
	return EXIT_DAEMON;
}

static cJSON *watch_params(const struct tail *t)
{
	const struct ctl_options *o = t->o;
	cJSON *p = cJSON_CreateObject();
	bool ok = p != NULL;

	if (ok && o->has_uid)
		ok = cJSON_AddNumberToObject(p, "uid", o->uid) != NULL;
	if (ok && o->comm)
		ok = cJSON_AddStringToObject(p, "comm", o->comm) != NULL;
	if (ok && o->unit)
		ok = cJSON_AddStringToObject(p, "unit", o->unit) != NULL;
	if (ok && o->include_failed)
		ok = cJSON_AddTrueToObject(p, "include_failed") != NULL;
	/* Left out unless asked: greeterd's default, and what an older one knows. */
	if (ok && o->exits)
		ok = cJSON_AddTrueToObject(p, "exits") != NULL;
	if (ok && t->have_last)
		ok = cJSON_AddNumberToObject(p, "after_seq", (double)t->last_seq) != NULL;
	if (ok && t->have_last && *t->stream)
		ok = cJSON_AddStringToObject(p, "stream", t->stream) != NULL;
	if (!ok) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static bool is_lost(int r)
{
	return r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN || r == -ESHUTDOWN;
}

/* Returns TAIL_CONTINUE, or an exit status (EXIT_OK once --count events are shown). */
static int handle_reply(struct tail *t, const cJSON *reply, bool *got_state)
{
	const cJSON *event = cJSON_GetObjectItemCaseSensitive(reply, "event");
	uint64_t seq, dropped;

	if (json_uint(cJSON_GetObjectItemCaseSensitive(reply, "dropped"), 9007199254740991.0,
		      &dropped) &&
	    dropped > 0)
		fprintf(stderr, "greeterctl: %llu event(s) lost\n", (unsigned long long)dropped);

	if (!cJSON_IsObject(event)) {
		const char *stream = json_str(reply, "stream");

		/* Numbering began anew (new pins, a reboot): the old last_seq means nothing. */
		if (*t->stream && *stream && strcmp(stream, t->stream)) {
			fprintf(stderr,
				"greeterctl: a new event stream began (the pins were made anew); "
				"showing it from its start\n");
			t->have_last = true;
			t->last_seq = 0;
		}
		if (strlen(stream) < sizeof(t->stream))
			snprintf(t->stream, sizeof(t->stream), "%s", stream);
		/* The state reply: resume after its seq if nothing else is known. */
		if (!*got_state && !t->have_last &&
		    json_uint(cJSON_GetObjectItemCaseSensitive(reply, "seq"), 9007199254740991.0,
			      &seq)) {
			t->last_seq = seq;
			t->have_last = true;
		}
		*got_state = true;
		if (t->lost_announced) {
			fprintf(stderr, "greeterctl: reconnected to greeterd\n");
			t->lost_announced = false;
		}
		if (!t->header_shown && !t->o->json) {
			print_event_header();
			t->header_shown = true;
			return flush_output();
		}
		return TAIL_CONTINUE;
	}

	if (!json_uint(cJSON_GetObjectItemCaseSensitive(event, "seq"), 9007199254740991.0, &seq)) {
		fprintf(stderr, "greeterctl: greeterd sent an event without a sequence number\n");
		return EXIT_DAEMON;
	}
	/* Replayed after a reconnect, and already shown. */
	if (t->have_last && seq <= t->last_seq)
		return TAIL_CONTINUE;
	if (!strcmp(json_str(event, "kind"), "exit")) {
		/* Only sent when asked for; anything else is skipped like a replayed event. */
		if (!t->o->exits) {
			t->last_seq = seq;
			t->have_last = true;
			return TAIL_CONTINUE;
		}
		if (t->o->json)
			print_json(event);
		else
			print_exit_line(event);
	} else if (t->o->json) {
		print_json(event);
	} else {
		print_event_line(event, line_width());
	}
	t->last_seq = seq;
	t->have_last = true;
	t->shown++;
	if (t->o->has_count && t->shown >= t->o->count) {
		int r = flush_output();

		return r == TAIL_CONTINUE ? EXIT_OK : r;
	}
	return flush_output();
}

/* Follow events on c. Returns TAIL_LOST, or an exit status. */
static int watch(struct tail *t, struct varlink_client *c)
{
	cJSON *params = watch_params(t), *reply = NULL;
	bool got_state = false, continues = false;
	char *error = NULL;
	int r;

	if (!params) {
		fprintf(stderr, "greeterctl: out of memory\n");
		return EXIT_DAEMON;
	}
	r = varlink_client_call(c, IO_GREETER_WATCH_EVENTS, params, VARLINK_CALL_MORE);
	if (r < 0)
		return is_lost(r) ? TAIL_LOST : ctl_transport_error("cannot follow events", r);

	while (!stop_requested) {
		/* Take what is buffered, then wait for more (or a signal). */
		r = varlink_client_read_reply(c, 0, &reply, &error, &continues);
		if (r == -ETIMEDOUT || r == -EINTR) {
			wait_or_stop(varlink_client_fd(c), -1);
			continue;
		}
		if (r < 0 && is_lost(r))
			return TAIL_LOST;
		if (r < 0)
			return ctl_transport_error("cannot follow events", r);
		if (error && t->lost_announced && !strcmp(error, IO_GREETER_ERROR_TOO_MANY_CONNECTIONS)) {
			/* A restarted greeterd flooded by reconnecting clients: retry. */
			r = TAIL_LOST;
		} else if (error) {
			print_daemon_error("cannot follow events", error, reply);
			r = EXIT_DAEMON;
		} else {
			r = handle_reply(t, reply, &got_state);
			/* A call that ends without an error: greeterd is going away. */
			if (r == TAIL_CONTINUE && !continues)
				r = TAIL_LOST;
		}
		cJSON_Delete(reply);
		free(error);
		reply = NULL;
		error = NULL;
		if (r != TAIL_CONTINUE)
			return r;
	}
	return EXIT_OK;
}

int cmd_tail(const struct ctl_options *o)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	struct tail t = { .o = o, .have_last = o->has_after, .last_seq = o->after };
	struct varlink_client *c = NULL;
	unsigned delay;
	int r;

	/* No SA_RESTART: a write stuck on a full pipe returns, and tail ends with 0. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	r = ctl_connect(o, &c);
	if (r)
		return stop_requested ? EXIT_OK : r;
	for (;;) {
		r = watch(&t, c);
		if (r == TAIL_LOST && o->no_reconnect) {
			varlink_client_free(c);
			/* With --host, ssh's exit status tells more. */
			if (o->host)
				return ctl_connection_failed(o, "cannot follow events", -ECONNRESET);
			fprintf(stderr, "greeterctl: connection to greeterd lost\n");
			return EXIT_NOT_RUNNING;
		}
		ctl_disconnect(o, c, false);
		c = NULL;
		if (r != TAIL_LOST)
			return r;
		if (!t.lost_announced) {
			fprintf(stderr, "greeterctl: connection to greeterd lost; reconnecting…\n");
			t.lost_announced = true;
		}
		for (delay = BACKOFF_MIN_MS; !stop_requested; delay *= 2) {
			unsigned max = o->host ? BACKOFF_MAX_REMOTE_MS : BACKOFF_MAX_MS;

			if (delay > max)
				delay = max;
			wait_or_stop(-1, (int)delay);
			if (!stop_requested && ctl_reconnect(o, &c) == 0)
				break;
		}
		if (stop_requested) {
			ctl_disconnect(o, c, false);
			return EXIT_OK;
		}
	}
}
