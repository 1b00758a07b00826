// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * io.greeter's methods on the messages: a change is answered once it is on
 * disk; a large ListMessages waits for its turn, so that events are drained
 * first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "clock.h"
#include "json_print.h"
#include "log.h"
#include "utf8.h"
#include "validate.h"
#include "io.greeter.varlink.h"

/* A ListMessages of more messages than this is answered from an idle-priority
 * source, one per turn of the loop: events are drained first. */
#define LIST_INLINE_MAX 1024
/* ... but one at least this often, however busy the loop: none starves. */
#define LIST_TURN_MAX_USEC (20 * 1000)

struct list_wait {
	struct api *api;
	struct varlink_call *call;
	struct list_wait *next;
};

/* A change being written: its call is answered once it is on disk. */
struct pending_call {
	struct api *api;
	struct varlink_call *call;
	enum {
		PENDING_SET,
		PENDING_REMOVE,
		PENDING_IMPORT
	} kind;
	uint32_t uid;
	struct messages_import_counts import;
};


static void write_error(struct varlink_call *c, int r, const char *err)
{
	varlink_call_error(c, IO_GREETER_ERROR_WRITE_FAILED, reason(err));
	log_warning("a change could not be stored: %s", err);
	(void)r;
}

/* The change is on disk (r == 0) or failed: answer its call. */
static void pending_done(void *userdata, int r, const char *err)
{
	struct pending_call *p = userdata;
	struct varlink_call *c = p->call;
	unsigned peer = (unsigned)varlink_call_peer(c)->uid;
	const struct messages_import_counts *n = &p->import;
	struct io_greeter_import_messages_reply reply;

	if (r < 0) {
		write_error(c, r, err);
		free(p);
		return;
	}
	switch (p->kind) {
	case PENDING_SET:
		if (p->uid == GREETER_DEFAULT_UID)
			log_info("default message set by UID %u", peer);
		else
			log_info("message for UID %u set by UID %u", p->uid, peer);
		break;
	case PENDING_REMOVE:
		break;
	case PENDING_IMPORT:
		/* An import that changed nothing is no news. */
		if (n->added || n->updated || n->removed)
			log_info("import by UID %u: %zu message(s) added, %zu updated, "
				 "%zu removed, %zu unchanged",
				 peer, n->added, n->updated, n->removed, n->unchanged);
		reply = (struct io_greeter_import_messages_reply){
			.set = (int64_t)(n->added + n->updated + n->unchanged),
			.removed = (int64_t)n->removed,
			.added = (int64_t)n->added,
			.has_added = true,
			.updated = (int64_t)n->updated,
			.has_updated = true,
			.unchanged = (int64_t)n->unchanged,
			.has_unchanged = true,
		};
		reply_built(c, io_greeter_import_messages_reply_json(&reply));
		free(p);
		return;
	}
	varlink_call_reply(c, NULL, false);
	free(p);
}

/* The caller hung up while its change was being written: it is written anyway. */
static void pending_close(struct varlink_call *c, void *userdata)
{
	struct pending_call *p = userdata;

	messages_forget(p->api->o.messages, p);
	free(p);
}

static struct pending_call *pending_new(struct api *a, struct varlink_call *c, int kind,
					uint32_t uid)
{
	struct pending_call *p = calloc(1, sizeof(*p));

	if (!p) {
		varlink_call_error(c, IO_GREETER_ERROR_WRITE_FAILED, reason("out of memory"));
		return NULL;
	}
	p->api = a;
	p->call = c;
	p->kind = kind;
	p->uid = uid;
	return p;
}

/* The change was queued (r == 0): the reply comes from pending_done(). */
static void pending_queued(struct pending_call *p, int r, const char *err)
{
	if (r < 0) {
		write_error(p->call, r, err);
		free(p);
		return;
	}
	varlink_call_defer(p->call);
	varlink_call_set_callbacks(p->call, p, NULL, pending_close);
}

void method_set_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_set_message_params *in = varlink_call_parameters(c);
	struct api *a = userdata;
	const char *why = NULL;
	struct pending_call *pending;
	char err[800];
	uint32_t uid;
	size_t len;
	int r;

	if (!get_uid(c, in->has_uid, in->uid, GREETER_DEFAULT_UID, &uid) || !may_edit(c, uid))
		return;
	len = strlen(in->message);
	r = greeter_validate_message(in->message, len, &why);
	if (r == -E2BIG) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "limit", GREETER_MESSAGE_MAX);
		varlink_call_error(c, IO_GREETER_ERROR_MESSAGE_TOO_LONG, e);
		return;
	}
	if (r < 0) {
		varlink_call_error(c, IO_GREETER_ERROR_INVALID_MESSAGE, reason(why));
		return;
	}
	pending = pending_new(a, c, PENDING_SET, uid);
	if (!pending)
		return;
	r = messages_set(a->o.messages, uid, in->message, len, pending_done, pending, err,
			 sizeof(err));
	pending_queued(pending, r, err);
}

void method_remove_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_remove_message_params *in = varlink_call_parameters(c);
	struct api *a = userdata;
	struct pending_call *pending;
	char err[800];
	uint32_t uid;
	int r;

	if (!get_uid(c, in->has_uid, in->uid, GREETER_DEFAULT_UID, &uid) || !may_edit(c, uid))
		return;
	pending = pending_new(a, c, PENDING_REMOVE, uid);
	if (!pending)
		return;
	r = messages_remove(a->o.messages, uid, pending_done, pending, err, sizeof(err));
	if (r == -ENOENT) {
		cJSON *e = cJSON_CreateObject();

		if (uid != GREETER_DEFAULT_UID)
			cJSON_AddNumberToObject(e, "uid", uid);
		varlink_call_error(c, IO_GREETER_ERROR_NO_SUCH_MESSAGE, e);
		free(pending);
		return;
	}
	pending_queued(pending, r, err);
}

void method_get_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_get_message_params *in = varlink_call_parameters(c);
	struct api *a = userdata;
	char text[GREETER_MESSAGE_SIZE];
	enum greeter_source src;
	cJSON *r;
	uint32_t uid;

	if (!get_uid(c, in->has_uid, in->uid, (uint32_t)varlink_call_peer(c)->uid, &uid))
		return;
	messages_get(a->o.messages, uid, text, &src);
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "uid", uid);
	cJSON_AddStringToObject(r, "message", text);
	cJSON_AddStringToObject(r, "source", event_source_name(src));
	varlink_call_reply(c, r, false);
}

/* ListMessages' reply, written once per change of the messages, not per call. */
static const char *list_text(struct api *a)
{
	const struct greeter_entries *all = messages_all(a->o.messages);
	cJSON *r, *list;

	if (a->list_text && a->list_version == messages_version(a->o.messages))
		return a->list_text;
	free(a->list_text);
	r = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(r, "messages");
	for (size_t i = 0; list && i < all->count; i++) {
		cJSON *m = cJSON_CreateObject();
		char text[GREETER_UTF8_SANITIZED_SIZE(GREETER_MESSAGE_SIZE)];

		if (all->items[i].uid != GREETER_DEFAULT_UID)
			cJSON_AddNumberToObject(m, "uid", all->items[i].uid);
		greeter_utf8_sanitize(text, sizeof(text), all->items[i].text, GREETER_MESSAGE_SIZE);
		cJSON_AddStringToObject(m, "message", text);
		cJSON_AddItemToArray(list, m);
	}
	a->list_text = r ? greeter_json_print(r) : NULL;
	a->list_version = messages_version(a->o.messages);
	cJSON_Delete(r);
	return a->list_text;
}

static void list_reply(struct api *a, struct varlink_call *c)
{
	const char *text = list_text(a);

	if (!text) {
		varlink_call_error(c, IO_GREETER_ERROR_WRITE_FAILED, reason("out of memory"));
		return;
	}
	varlink_call_reply_text(c, text, false);
}

/* The caller of a waiting ListMessages went away. */
static void list_wait_close(struct varlink_call *c, void *userdata)
{
	struct list_wait *w = userdata;
	struct api *a = w->api;

	for (struct list_wait **p = &a->list_head; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			if (a->list_tail == &w->next)
				a->list_tail = p;
			break;
		}
	free(w);
}

/*
 * The oldest waiting ListMessages whose caller's UID is not holding its
 * bound of unread replies; NULL if none (they go on from on_drain).
 */
static struct list_wait **list_next(struct api *a)
{
	for (struct list_wait **p = &a->list_head; *p; p = &(*p)->next)
		if (!varlink_call_peer_backlogged((*p)->call))
			return p;
	return NULL;
}

/* The next waiting ListMessages, answered; the next one on a later turn. */
static bool list_answer_one(struct api *a)
{
	struct list_wait **p = list_next(a), *w;

	if (!p)
		return false;
	w = *p;
	*p = w->next;
	if (a->list_tail == &w->next)
		a->list_tail = p;
	list_reply(a, w->call);
	free(w);
	return true;
}

/* Arm both ways of answering the next waiting list. */
static void list_schedule(struct api *a)
{
	if (!list_next(a))
		return;
	sd_event_source_set_enabled(a->list_source, SD_EVENT_ONESHOT);
	if (sd_event_source_get_enabled(a->list_timer, NULL) <= 0) {
		sd_event_source_set_time_relative(a->list_timer, LIST_TURN_MAX_USEC);
		sd_event_source_set_enabled(a->list_timer, SD_EVENT_ONESHOT);
	}
}

static int on_list_turn(sd_event_source *s, void *userdata)
{
	struct api *a = userdata;

	list_answer_one(a);
	list_schedule(a);
	return 0;
}

/* The loop has not been idle for LIST_TURN_MAX_USEC: one list anyway. */
static int on_list_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct api *a = userdata;

	list_answer_one(a);
	list_schedule(a);
	return 0;
}

/* A UID under its bound again: its lists may be answered. */
static void list_wait_drain(struct varlink_call *c, void *userdata)
{
	struct list_wait *w = userdata;

	list_schedule(w->api);
}

void method_list_messages(struct varlink_call *c, const cJSON *p, void *userdata)
{
	struct api *a = userdata;
	struct list_wait *w;

	/*
	 * 16,384 messages are 650 KB of reply (up to 5 MB). Callers pipelining
	 * them on many connections would keep the loop from the ring: large
	 * lists wait for a turn when nothing else is pending, one per turn; and
	 * while the caller's UID holds its bound of unread replies, its lists
	 * wait until it reads.
	 */
	if ((messages_count(a->o.messages) <= LIST_INLINE_MAX &&
	     !varlink_call_peer_backlogged(c)) ||
	    !a->list_timer || !(w = calloc(1, sizeof(*w)))) {
		list_reply(a, c);
		return;
	}
	w->api = a;
	w->call = c;
	*a->list_tail = w;
	a->list_tail = &w->next;
	varlink_call_defer(c);
	varlink_call_set_callbacks(c, w, list_wait_drain, list_wait_close);
	list_schedule(a);
}

static bool uid_in_range(const struct io_greeter_message *m)
{
	return !m->has_uid || (m->uid >= 0 && m->uid <= 4294967294);
}

/*
 * Why an entry of an ImportMessages list cannot be applied, as clients have
 * been told: its fields are read in the IDL's order, uid before message,
 * and a uid out of range is the fault even when the message is one too.
 */
static void import_fault(int r, const char *bad, const struct io_greeter_message *m, char *why,
			 size_t size)
{
	if (r == -EINVAL && !bad)
		snprintf(why, size, "not an object");
	else if (r == -EEXIST || r == -ENOENT)
		snprintf(why, size, "%s key", r == -EEXIST ? "repeated" : "unknown");
	else if (r == 0 || !strcmp(bad, "uid") || !uid_in_range(m))
		snprintf(why, size, "uid is not a UID (0 to 4294967294)");
	else
		snprintf(why, size, "message is missing or not a string");
}

/* One entry of an ImportMessages list; false (and InvalidImport sent) if bad. */
static bool import_entry(struct varlink_call *c, const cJSON *item, size_t index,
			 struct greeter_entries *list)
{
	struct io_greeter_message m;
	const char *bad = NULL, *bad_text = NULL;
	uint32_t key;
	char why[200];
	cJSON *e;
	int r;

	r = io_greeter_message_read(item, &m, &bad);
	if (r < 0 || !uid_in_range(&m)) {
		import_fault(r, bad, &m, why, sizeof(why));
		goto bad;
	}
	key = m.has_uid ? (uint32_t)m.uid : GREETER_DEFAULT_UID;
	r = greeter_validate_message(m.message, strlen(m.message), &bad_text);
	if (r < 0) {
		snprintf(why, sizeof(why), "message: %s",
			 r == -E2BIG ? "longer than 63 bytes" : bad_text);
		goto bad;
	}
	if (greeter_entries_find(list, key)) {
		if (key == GREETER_DEFAULT_UID)
			snprintf(why, sizeof(why), "the default message is listed twice");
		else
			snprintf(why, sizeof(why), "UID %u is listed twice", key);
		goto bad;
	}
	r = greeter_entries_add(list, key, m.message);
	if (r == 0)
		return true;
	snprintf(why, sizeof(why), "%s", strerror(-r));
bad:
	e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "index", (double)index);
	cJSON_AddStringToObject(e, "reason", why);
	varlink_call_error(c, IO_GREETER_ERROR_INVALID_IMPORT, e);
	return false;
}

void method_import_messages(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_import_messages_params *in = varlink_call_parameters(c);
	struct api *a = userdata;
	struct greeter_entries list = { 0 };
	struct pending_call *pending;
	const cJSON *item;
	size_t index = 0;
	char err[800];
	int r;

	if (varlink_call_peer(c)->uid != 0) {
		varlink_call_error(c, IO_GREETER_ERROR_PERMISSION_DENIED,
				   reason("only root may import messages"));
		return;
	}
	if (cJSON_GetArraySize(in->messages) > GREETER_MAX_MESSAGES) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "index", GREETER_MAX_MESSAGES);
		cJSON_AddStringToObject(e, "reason",
					"more messages than the config map holds (16384)");
		varlink_call_error(c, IO_GREETER_ERROR_INVALID_IMPORT, e);
		return;
	}
	cJSON_ArrayForEach (item, in->messages) {
		if (!import_entry(c, item, index++, &list)) {
			greeter_entries_free(&list);
			return;
		}
	}
	pending = pending_new(a, c, PENDING_IMPORT, 0);
	if (!pending) {
		greeter_entries_free(&list);
		return;
	}
	r = messages_import(a->o.messages, &list, in->replace, &pending->import, pending_done,
			    pending, err, sizeof(err));
	if (r > 0) /* nothing to write: answered now */
		pending_done(pending, 0, NULL);
	else
		pending_queued(pending, r, err);
}

int lists_start(struct api *a)
{
	int r;

	a->list_tail = &a->list_head;
	r = sd_event_add_defer(a->o.loop, &a->list_source, on_list_turn, a);
	if (r >= 0)
		r = sd_event_source_set_priority(a->list_source, SD_EVENT_PRIORITY_IDLE);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->list_source, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time_relative(a->o.loop, &a->list_timer, CLOCK_MONOTONIC,
					       LIST_TURN_MAX_USEC, 1000, on_list_timer, a);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->list_timer, SD_EVENT_OFF);
	return r;
}

void lists_answer(struct api *a, uint64_t deadline)
{
	while (now_usec(CLOCK_MONOTONIC) < deadline && list_answer_one(a))
		;
}

void lists_free(struct api *a)
{
	sd_event_source_disable_unref(a->list_source);
	sd_event_source_disable_unref(a->list_timer);
	free(a->list_text);
}
