// SPDX-License-Identifier: LGPL-2.1-or-later
/* The clients of io.greeter.WatchEvents (watchers.h says what is promised). */
#include "watchers.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "exec_id.h"
#include "json_print.h"
#include "log.h"
#include "utf8.h"

/* Live watchers are found by the UID they watch, in one of these lists. */
#define LIVE_BUCKETS 64

/* A link of a circular list with a head of its own: unlinking twice is harmless. */
struct node {
	struct node *prev, *next;
};

static void node_init(struct node *n)
{
	n->prev = n->next = n;
}

static void node_add(struct node *head, struct node *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static void node_del(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	node_init(n);
}

static bool node_linked(const struct node *n)
{
	return n->next != n;
}

struct watcher {
	struct watchers *ws;
	struct varlink_call *call;
	struct watch_filter f;
	struct node all; /* in ws->all */
	struct node live; /* in the live list of what it watches, while live */
	struct node queued; /* in ws->queued: sent something this batch */
	bool is_live; /* has seen everything: new events come from on_event */
	struct events_cursor cur; /* while behind: where it reads the window */
	uint64_t dropped; /* lost since the last reply that said so */
	uint64_t dropped_total;
};

struct watchers {
	struct events *ev;
	int sink;
	struct node all;
	struct node live[LIVE_BUCKETS]; /* by the one UID watched */
	struct node live_all; /* admins watching every UID */
	struct node queued;
	size_t count;
	uint64_t delivered;
	uint64_t dropped;
	/* Runs the watchers a long replay left with more to look at. */
	sd_event_source *replay;
	/* The last event written as JSON, and its window position. */
	char *text;
	uint64_t text_pos;
};

#define WATCHER_OF(n, member) ((struct watcher *)((char *)(n) - offsetof(struct watcher, member)))

static struct node *live_list(struct watchers *ws, const struct watch_filter *f)
{
	if (f->has_uid)
		return &ws->live[f->uid % LIVE_BUCKETS];
	if (!f->all_users)
		return &ws->live[f->peer_uid % LIVE_BUCKETS];
	return &ws->live_all;
}

/* The exec ids, the parent, and an exit's outcome. */
static void add_life(cJSON *o, const struct greeter_event *e)
{
	char id[EXEC_ID_SIZE];
	char pcomm[GREETER_UTF8_SANITIZED_SIZE(GREETER_COMM_SIZE)];
	char pfile[GREETER_UTF8_SANITIZED_SIZE(GREETER_FILENAME_SIZE)];

	if (e->exec_ns) {
		exec_id_format(id, e->exec_ns, e->pid);
		cJSON_AddStringToObject(o, "exec_id", id);
	}
	if (e->parent_exec_ns) {
		exec_id_format(id, e->parent_exec_ns, e->parent_pid);
		cJSON_AddStringToObject(o, "parent_exec_id", id);
		cJSON_AddNumberToObject(o, "parent_pid", e->parent_pid);
		if (e->kind == GREETER_KIND_EXEC) {
			greeter_utf8_sanitize(pcomm, sizeof(pcomm), e->parent_comm,
					      sizeof(e->parent_comm));
			greeter_utf8_sanitize(pfile, sizeof(pfile), e->parent_file,
					      sizeof(e->parent_file));
			cJSON_AddStringToObject(o, "parent_comm", pcomm);
			cJSON_AddStringToObject(o, "parent_file", pfile);
		}
	}
	if (e->kind != GREETER_KIND_EXIT)
		return;
	if ((e->exit_status & 0x7f) == 0) {
		cJSON_AddNumberToObject(o, "exit_code", (e->exit_status >> 8) & 0xff);
	} else {
		cJSON_AddNumberToObject(o, "signal", e->exit_status & 0x7f);
		cJSON_AddBoolToObject(o, "core_dumped", (e->exit_status & 0x80) != 0);
	}
	cJSON_AddNumberToObject(o, "duration_usec",
				(double)(e->boot_ns > e->exec_ns ? (e->boot_ns - e->exec_ns) / 1000 : 0));
}

static cJSON *event_json(const struct greeter_event *e)
{
	char comm[GREETER_UTF8_SANITIZED_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_UTF8_SANITIZED_SIZE(GREETER_FILENAME_SIZE)];
	char msg[GREETER_UTF8_SANITIZED_SIZE(GREETER_MESSAGE_SIZE)];
	char unit[GREETER_UTF8_SANITIZED_SIZE(GREETER_UNIT_SIZE)];
	uint64_t boot_usec = e->boot_ns / 1000;
	uint64_t now_boot = now_usec(CLOCK_BOOTTIME), now_real = now_usec(CLOCK_REALTIME);
	cJSON *o = cJSON_CreateObject();

	/* Kernel strings may hold anything; JSON needs valid UTF-8. */
	greeter_utf8_sanitize(comm, sizeof(comm), e->comm, sizeof(e->comm));
	greeter_utf8_sanitize(file, sizeof(file), e->filename, sizeof(e->filename));
	greeter_utf8_sanitize(msg, sizeof(msg), e->message, sizeof(e->message));
	cJSON_AddNumberToObject(o, "seq", (double)e->seq);
	cJSON_AddStringToObject(o, "kind", e->kind == GREETER_KIND_EXIT ? "exit" : "exec");
	cJSON_AddNumberToObject(o, "boot_usec", (double)boot_usec);
	cJSON_AddNumberToObject(
		o, "timestamp_usec",
		(double)(now_real - (now_boot > boot_usec ? now_boot - boot_usec : 0)));
	cJSON_AddNumberToObject(o, "pid", e->pid);
	cJSON_AddNumberToObject(o, "ppid", e->ppid);
	cJSON_AddNumberToObject(o, "uid", e->uid);
	cJSON_AddNumberToObject(o, "gid", e->gid);
	cJSON_AddStringToObject(o, "comm", comm);
	cJSON_AddStringToObject(o, "filename", file);
	if (e->kind == GREETER_KIND_EXEC) {
		cJSON_AddStringToObject(o, "message", msg);
		cJSON_AddStringToObject(o, "source", event_source_name(e->source));
	}
	add_life(o, e);
	if (e->flags & GREETER_EVENT_FAILED)
		cJSON_AddNumberToObject(o, "error", e->error);
	if (e->flags & GREETER_EVENT_ARGS) {
		cJSON *args = cJSON_AddArrayToObject(o, "args");
		char arg[GREETER_UTF8_SANITIZED_SIZE(GREETER_ARGS_SIZE)];

		for (const char *a = event_next_arg(e, NULL); a && args; a = event_next_arg(e, a)) {
			greeter_utf8_sanitize(arg, sizeof(arg), a, strlen(a));
			cJSON_AddItemToArray(args, cJSON_CreateString(arg));
		}
	}
	cJSON_AddBoolToObject(o, "args_truncated", (e->flags & GREETER_EVENT_ARGS_TRUNCATED) != 0);
	greeter_utf8_sanitize(unit, sizeof(unit), e->unit, sizeof(e->unit));
	cJSON_AddStringToObject(o, "unit", unit);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)e->cgroup_id);
	return o;
}

/* Whether the watcher may and asked to see events of uid. */
static bool wants_uid(uint32_t uid, const void *filter)
{
	const struct watch_filter *f = filter;

	return (f->all_users || uid == f->peer_uid) && (!f->has_uid || uid == f->uid);
}

static bool wants(const struct watch_filter *f, const struct greeter_event *e)
{
	if (!wants_uid(e->uid, f))
		return false;
	if (f->has_comm && strncmp(e->comm, f->comm, sizeof(f->comm)) != 0)
		return false;
	if (f->has_unit && strncmp(e->unit, f->unit, sizeof(f->unit)) != 0)
		return false;
	if ((e->flags & GREETER_EVENT_FAILED) && !f->include_failed)
		return false;
	if (e->kind == GREETER_KIND_EXIT && !f->include_exits)
		return false;
	return true;
}

/* The event at a window position as JSON text, written once for all watchers. */
static const char *event_text(struct watchers *ws, uint64_t pos, const struct greeter_event *e)
{
	cJSON *obj;

	if (ws->text && ws->text_pos == pos)
		return ws->text;
	free(ws->text);
	obj = event_json(e);
	ws->text = obj ? greeter_json_print(obj) : NULL;
	ws->text_pos = pos;
	cJSON_Delete(obj);
	return ws->text;
}

static void watcher_send(struct watcher *w, uint64_t pos, const struct greeter_event *e)
{
	const char *text = event_text(w->ws, pos, e);
	char *params;
	size_t size;

	if (!text)
		return;
	size = strlen(text) + 64;
	params = malloc(size);
	if (!params)
		return;
	if (w->dropped)
		snprintf(params, size, "{\"event\":%s,\"dropped\":%llu}", text,
			 (unsigned long long)w->dropped);
	else
		snprintf(params, size, "{\"event\":%s}", text);
	w->dropped = 0;
	if (varlink_call_reply_text(w->call, params, true) == 0) {
		w->ws->delivered++;
		if (!node_linked(&w->queued))
			node_add(&w->ws->queued, &w->queued);
	}
	free(params);
}

/* Whether another event may be queued for the watcher now. */
static bool has_room(const struct watcher *w)
{
	return varlink_call_output_pending(w->call) < WATCHERS_OUTPUT_HIGH &&
	       !varlink_call_peer_backlogged(w->call);
}

/* What the watcher's cursor lost: counted, and told in its next reply. */
static void count_lost(struct watcher *w)
{
	uint64_t lost = events_cursor_skip_lost(w->ws->ev, &w->cur);

	w->dropped += lost;
	w->dropped_total += lost;
	w->ws->dropped += lost;
}

/*
 * A watcher behind: send what it has not seen, as far as its socket (and
 * its UID's bound) takes it, looking at WATCHERS_SLICE positions at most;
 * replay goes on with the rest. Caught up, it is live.
 */
static void watcher_pump(struct watcher *w)
{
	struct watchers *ws = w->ws;
	uint64_t limit = w->cur.pos + WATCHERS_SLICE, pos;
	const struct greeter_event *e;

	if (w->is_live)
		return;
	count_lost(w);
	while (has_room(w) &&
	       (e = events_cursor_next(ws->ev, &w->cur, limit, wants_uid, &w->f, &pos))) {
		/* Told with this event: what the cursor could not read before it. */
		count_lost(w);
		if (wants(&w->f, e))
			watcher_send(w, pos, e);
	}
	count_lost(w);
	if (!events_cursor_done(ws->ev, &w->cur) && w->cur.pos >= limit) {
		sd_event_source_set_enabled(ws->replay, SD_EVENT_ONESHOT);
		return;
	}
	if (events_cursor_done(ws->ev, &w->cur)) {
		w->is_live = true;
		node_add(live_list(ws, &w->f), &w->live);
	}
}

static int on_replay_turn(sd_event_source *s, void *userdata)
{
	struct watchers *ws = userdata;

	for (struct node *n = ws->all.next; n != &ws->all; n = n->next)
		watcher_pump(WATCHER_OF(n, all));
	return 0;
}

/* A new event to the live watchers of its UID, and those of every UID. */
static void offer(struct node *list, uint64_t pos, const struct greeter_event *e)
{
	for (struct node *n = list->next, *next; n != list; n = next) {
		struct watcher *w = WATCHER_OF(n, live);

		next = n->next;
		if (!wants(&w->f, e))
			continue;
		if (has_room(w)) {
			watcher_send(w, pos, e);
			continue;
		}
		/* Behind from here: it goes on when its socket drains. */
		w->is_live = false;
		w->cur.pos = pos;
		node_del(&w->live);
	}
}

static void on_event(const struct greeter_event *e, void *userdata)
{
	struct watchers *ws = userdata;
	uint64_t pos = events_dispatch_pos(ws->ev);

	offer(&ws->live[e->uid % LIVE_BUCKETS], pos, e);
	offer(&ws->live_all, pos, e);
}

/* A batch of events queued: into the sockets, one write per watcher sent to. */
static void on_batch_end(void *userdata)
{
	struct watchers *ws = userdata;

	while (node_linked(&ws->queued)) {
		struct node *n = ws->queued.next;

		node_del(n);
		varlink_call_flush(WATCHER_OF(n, queued)->call);
	}
}

static void watcher_on_drain(struct varlink_call *c, void *userdata)
{
	watcher_pump(userdata);
}

static void watcher_on_close(struct varlink_call *c, void *userdata)
{
	struct watcher *w = userdata;

	node_del(&w->all);
	node_del(&w->live);
	node_del(&w->queued);
	w->ws->count--;
	log_debug("watcher of UID %u left (%llu dropped)", w->f.peer_uid,
		  (unsigned long long)w->dropped_total);
	free(w);
}

int watchers_add(struct watchers *ws, struct varlink_call *c, const struct watch_filter *f,
		 struct events_cursor from)
{
	struct watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->ws = ws;
	w->call = c;
	w->f = *f;
	w->cur = from;
	node_init(&w->live);
	node_init(&w->queued);
	node_add(&ws->all, &w->all);
	ws->count++;
	varlink_call_set_callbacks(c, w, watcher_on_drain, watcher_on_close);
	watcher_pump(w);
	return 0;
}

void watchers_pump_all(struct watchers *ws, uint64_t deadline_usec)
{
	if (!ws)
		return;
	for (struct node *n = ws->all.next; n != &ws->all; n = n->next) {
		if (now_usec(CLOCK_MONOTONIC) >= deadline_usec)
			return;
		watcher_pump(WATCHER_OF(n, all));
	}
}

size_t watchers_count(const struct watchers *ws)
{
	return ws ? ws->count : 0;
}

uint64_t watchers_delivered(const struct watchers *ws)
{
	return ws ? ws->delivered : 0;
}

uint64_t watchers_dropped(const struct watchers *ws)
{
	uint64_t n, start;

	if (!ws)
		return 0;
	/* And what watchers behind have lost already, and will hear of when they read. */
	n = ws->dropped;
	start = events_window_start(ws->ev);
	for (const struct node *i = ws->all.next; i != &ws->all; i = i->next) {
		const struct watcher *w = WATCHER_OF(i, all);

		if (!w->is_live && w->cur.pos < start)
			n += start - w->cur.pos;
	}
	return n;
}

int watchers_new(struct watchers **out, sd_event *loop, struct events *ev)
{
	struct watchers *ws = calloc(1, sizeof(*ws));
	int r;

	*out = NULL;
	if (!ws)
		return -ENOMEM;
	ws->ev = ev;
	node_init(&ws->all);
	node_init(&ws->live_all);
	node_init(&ws->queued);
	for (size_t i = 0; i < LIVE_BUCKETS; i++)
		node_init(&ws->live[i]);
	r = sd_event_add_defer(loop, &ws->replay, on_replay_turn, ws);
	if (r >= 0)
		r = sd_event_source_set_enabled(ws->replay, SD_EVENT_OFF);
	if (r >= 0)
		r = ws->sink = events_add_sink(ev, on_event, ws);
	if (r < 0) {
		sd_event_source_disable_unref(ws->replay);
		free(ws);
		return r;
	}
	events_set_batch_end(ev, on_batch_end, ws);
	*out = ws;
	return 0;
}

void watchers_free(struct watchers *ws)
{
	if (!ws)
		return;
	events_remove_sink(ws->ev, ws->sink);
	events_set_batch_end(ws->ev, NULL, NULL);
	sd_event_source_disable_unref(ws->replay);
	free(ws->text);
	free(ws);
}
