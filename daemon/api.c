// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The io.greeter varlink interface: messages, status and the event stream,
 * with who may do what decided from the caller's credentials.
 */
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "dirs.h"
#include "journal.h"
#include "json_print.h"
#include "log.h"
#include "utf8.h"
#include "validate.h"
#include "varlink_server.h"

#define MAX_CONNECTIONS 4096
#define MAX_CONNECTIONS_PER_UID 512
/* Of MAX_CONNECTIONS, kept for root and the admin group. */
#define RESERVED_CONNECTIONS 64
/* The admin group's GID is looked up again at most this often. */
#define ADMIN_GID_TTL_USEC (60 * 1000 * 1000)
#define MAX_REQUEST_SIZE (64 * 1024)
/* Root's calls may be larger: an ImportMessages of the map's 16,384 messages. */
#define MAX_ROOT_REQUEST_SIZE (4 * 1024 * 1024)
/* A watcher's socket may hold this much; the rest waits in the ring for it. */
#define WATCH_OUTPUT_HIGH (64 * 1024)
/* At shutdown, what is left is queued up to this much per watcher. */
#define WATCH_OUTPUT_FLUSH (4 * 1024 * 1024)
#define SHUTDOWN_FLUSH_USEC (2 * 1000 * 1000)
#define STATUS_INTERVAL_USEC (5 * 1000 * 1000)
/* A ListMessages of more messages than this is answered from an idle-priority
 * source, one per turn of the loop: events are drained first. */
#define LIST_INLINE_MAX 1024
/* ... but one at least this often, however busy the loop: none starves. */
#define LIST_TURN_MAX_USEC (20 * 1000)
/* Largest integer a JSON number (a double) carries exactly. */
#define JSON_INT_MAX 9007199254740991.0

/* Embedded at build time from io.greeter.varlink. */
extern const char greeter_varlink_idl[];

struct watcher {
	struct api *api;
	struct varlink_call *call;
	struct watcher *prev, *next;
	uint64_t pos; /* next window position to consider */
	uint64_t dropped; /* lost since the last reply that said so */
	uint64_t dropped_total;
	uint32_t peer_uid;
	bool all_users;
	bool has_uid;
	uint32_t uid;
	bool has_comm;
	char comm[GREETER_COMM_SIZE];
	bool has_unit;
	char unit[GREETER_UNIT_SIZE];
	bool include_failed;
};

struct api {
	struct daemon *d;
	struct varlink_server *server;
	int sink;
	struct watcher *watchers;
	size_t n_watchers;
	uint64_t delivered;
	uint64_t dropped;
	sd_event_source *status_timer;
	bool flushing;
	/* The last event written as JSON, and its window position. */
	char *event_text;
	uint64_t event_text_pos;
	/* ListMessages' reply as JSON, for the messages as of batch list_batches. */
	char *list_text;
	uint64_t list_batches;
	/* Large ListMessages calls waiting for their turn, oldest first. */
	struct list_wait *list_head, **list_tail;
	sd_event_source *list_source;
	sd_event_source *list_timer;
	/* The admin group's GID, looked up at admin_gid_usec (0: never). */
	gid_t admin_gid;
	bool admin_gid_found;
	uint64_t admin_gid_usec;
};

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
	size_t set, removed;
};

/* Parameters */

/* Reject unknown and repeated parameter names: no guessing what was meant. */
static bool check_parameters(struct varlink_call *c, const cJSON *p, const char *const *known)
{
	const cJSON *item, *other;

	cJSON_ArrayForEach (item, p) {
		bool ok = false;

		for (size_t i = 0; known[i]; i++)
			ok |= strcmp(item->string, known[i]) == 0;
		for (other = p->child; ok && other != item; other = other->next)
			ok = strcmp(other->string, item->string) != 0;
		if (!ok) {
			varlink_call_error_invalid_parameter(c, item->string);
			return false;
		}
	}
	return true;
}

static bool json_integer(const cJSON *v, double min, double max, double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
	    v->valuedouble > max || floor(v->valuedouble) != v->valuedouble)
		return false;
	*out = v->valuedouble;
	return true;
}

/*
 * An optional "uid" parameter: absent or null gives fallback. UIDs are
 * 0..4294967294; 4294967295 names nobody (it is the default message's key).
 */
static bool get_uid(struct varlink_call *c, const cJSON *p, uint32_t fallback, uint32_t *uid)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "uid");
	double d;

	if (!v || cJSON_IsNull(v)) {
		*uid = fallback;
		return true;
	}
	if (!json_integer(v, 0, 4294967294.0, &d)) {
		varlink_call_error_invalid_parameter(c, "uid");
		return false;
	}
	*uid = (uint32_t)d;
	return true;
}

static cJSON *reason(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "reason", text);
	return p;
}

/* Permissions */

/*
 * The name service may be slow (LDAP, sssd): a lookup on the event loop
 * holds up every client, so its answer is kept for ADMIN_GID_TTL_USEC, not
 * asked again for every connection and call.
 */
static bool admin_gid(struct api *a, gid_t *gid)
{
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	if (!a->admin_gid_usec || now - a->admin_gid_usec >= ADMIN_GID_TTL_USEC) {
		const struct group *g = getgrnam(a->d->opt.admin_group);

		a->admin_gid_found = g != NULL;
		a->admin_gid = g ? g->gr_gid : 0;
		a->admin_gid_usec = now ? now : 1;
	}
	*gid = a->admin_gid;
	return a->admin_gid_found;
}

static bool is_admin(struct api *a, const struct varlink_peer *peer)
{
	gid_t gid;

	if (peer->uid == 0)
		return true;
	if (!admin_gid(a, &gid))
		return false;
	if (peer->gid == gid)
		return true;
	for (size_t i = 0; i < peer->n_groups; i++)
		if (peer->groups[i] == gid)
			return true;
	return false;
}

/* varlink_server's reserve of connections: root and the admin group. */
static bool is_privileged(const struct varlink_peer *peer, void *userdata)
{
	return is_admin(userdata, peer);
}

/* Root edits any message; others only their own UID's, never the default. */
static bool may_edit(struct varlink_call *c, uint32_t uid)
{
	const struct varlink_peer *peer = varlink_call_peer(c);
	char text[160];

	if (peer->uid == 0 || (uid != GREETER_DEFAULT_UID && uid == peer->uid))
		return true;
	if (uid == GREETER_DEFAULT_UID)
		snprintf(text, sizeof(text), "only root may change the default message");
	else
		snprintf(text, sizeof(text), "UID %u may change only its own message, not UID %u's",
			 (unsigned)peer->uid, uid);
	varlink_call_error(c, "io.greeter.PermissionDenied", reason(text));
	return false;
}

/* Methods */

static void write_error(struct varlink_call *c, int r, const char *err)
{
	varlink_call_error(c, "io.greeter.WriteFailed", reason(err));
	log_warning("a change could not be stored: %s", err);
	(void)r;
}

/* The change is on disk (r == 0) or failed: answer its call. */
static void pending_done(void *userdata, int r, const char *err)
{
	struct pending_call *p = userdata;
	struct varlink_call *c = p->call;
	unsigned peer = (unsigned)varlink_call_peer(c)->uid;
	cJSON *reply = NULL;

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
		log_info("imported %zu message(s), removed %zu, by UID %u", p->set, p->removed,
			 peer);
		reply = cJSON_CreateObject();
		cJSON_AddNumberToObject(reply, "set", (double)p->set);
		cJSON_AddNumberToObject(reply, "removed", (double)p->removed);
		break;
	}
	varlink_call_reply(c, reply, false);
	free(p);
}

/* The caller hung up while its change was being written: it is written anyway. */
static void pending_close(struct varlink_call *c, void *userdata)
{
	struct pending_call *p = userdata;

	messages_forget(&p->api->d->messages, p);
	free(p);
}

static struct pending_call *pending_new(struct api *a, struct varlink_call *c, int kind,
					uint32_t uid)
{
	struct pending_call *p = calloc(1, sizeof(*p));

	if (!p) {
		varlink_call_error(c, "io.greeter.WriteFailed", reason("out of memory"));
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

static void method_set_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { "uid", "message", NULL };
	struct api *a = userdata;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(p, "message");
	const char *why = NULL;
	struct pending_call *pending;
	char err[800];
	uint32_t uid;
	size_t len;
	int r;

	if (!check_parameters(c, p, known) || !get_uid(c, p, GREETER_DEFAULT_UID, &uid))
		return;
	if (!cJSON_IsString(msg)) {
		varlink_call_error_invalid_parameter(c, "message");
		return;
	}
	if (!may_edit(c, uid))
		return;
	len = strlen(msg->valuestring);
	r = greeter_validate_message(msg->valuestring, len, &why);
	if (r == -E2BIG) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "limit", GREETER_MESSAGE_MAX);
		varlink_call_error(c, "io.greeter.MessageTooLong", e);
		return;
	}
	if (r < 0) {
		varlink_call_error(c, "io.greeter.InvalidMessage", reason(why));
		return;
	}
	pending = pending_new(a, c, PENDING_SET, uid);
	if (!pending)
		return;
	r = messages_set(&a->d->messages, uid, msg->valuestring, len, pending_done, pending, err,
			 sizeof(err));
	pending_queued(pending, r, err);
}

static void method_remove_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { "uid", NULL };
	struct api *a = userdata;
	struct pending_call *pending;
	char err[800];
	uint32_t uid;
	int r;

	if (!check_parameters(c, p, known) || !get_uid(c, p, GREETER_DEFAULT_UID, &uid))
		return;
	if (!may_edit(c, uid))
		return;
	pending = pending_new(a, c, PENDING_REMOVE, uid);
	if (!pending)
		return;
	r = messages_remove(&a->d->messages, uid, pending_done, pending, err, sizeof(err));
	if (r == -ENOENT) {
		cJSON *e = cJSON_CreateObject();

		if (uid != GREETER_DEFAULT_UID)
			cJSON_AddNumberToObject(e, "uid", uid);
		varlink_call_error(c, "io.greeter.NoSuchMessage", e);
		free(pending);
		return;
	}
	pending_queued(pending, r, err);
}

static void method_get_message(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { "uid", NULL };
	struct api *a = userdata;
	char text[GREETER_MESSAGE_SIZE];
	enum greeter_source src;
	cJSON *r;
	uint32_t uid;

	if (!check_parameters(c, p, known) ||
	    !get_uid(c, p, (uint32_t)varlink_call_peer(c)->uid, &uid))
		return;
	messages_get(&a->d->messages, uid, text, &src);
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "uid", uid);
	cJSON_AddStringToObject(r, "message", text);
	cJSON_AddStringToObject(r, "source", events_source_name(src));
	varlink_call_reply(c, r, false);
}

/* ListMessages' reply, written once per change of the messages, not per call. */
static const char *list_text(struct api *a)
{
	const struct greeter_entries *all = messages_all(&a->d->messages);
	cJSON *r, *list;

	if (a->list_text && a->list_batches == a->d->messages.batches)
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
	a->list_batches = a->d->messages.batches;
	cJSON_Delete(r);
	return a->list_text;
}

static void list_reply(struct api *a, struct varlink_call *c)
{
	const char *text = list_text(a);

	if (!text) {
		varlink_call_error(c, "io.greeter.WriteFailed", reason("out of memory"));
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

/* The oldest waiting ListMessages, answered; the next one on a later turn. */
static void list_answer_one(struct api *a)
{
	struct list_wait *w = a->list_head;

	if (!w)
		return;
	a->list_head = w->next;
	if (!a->list_head)
		a->list_tail = &a->list_head;
	list_reply(a, w->call);
	free(w);
}

/* Arm both ways of answering the next waiting list. */
static void list_schedule(struct api *a)
{
	if (!a->list_head)
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

static void method_list_messages(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { NULL };
	struct api *a = userdata;
	struct list_wait *w;

	if (!check_parameters(c, p, known))
		return;
	/*
	 * 16,384 messages are 650 KB of reply. Callers pipelining them on many
	 * connections would keep the loop from the ring: large lists wait for
	 * a turn when nothing else is pending, one per turn.
	 */
	if (messages_count(&a->d->messages) <= LIST_INLINE_MAX || !a->list_timer ||
	    !(w = calloc(1, sizeof(*w)))) {
		list_reply(a, c);
		return;
	}
	w->api = a;
	w->call = c;
	*a->list_tail = w;
	a->list_tail = &w->next;
	varlink_call_defer(c);
	varlink_call_set_callbacks(c, w, NULL, list_wait_close);
	list_schedule(a);
}

/* One entry of an ImportMessages list; false (and InvalidImport sent) if bad. */
static bool import_entry(struct varlink_call *c, const cJSON *item, size_t index,
			 struct greeter_entries *list)
{
	const cJSON *uid = NULL, *msg = NULL, *f;
	char why[200] = "";
	const char *bad_text = NULL;
	uint32_t key = GREETER_DEFAULT_UID;
	double d;
	int r;

	if (!cJSON_IsObject(item)) {
		snprintf(why, sizeof(why), "not an object");
		goto bad;
	}
	cJSON_ArrayForEach (f, item) {
		const cJSON **slot = NULL;

		if (strcmp(f->string, "uid") == 0)
			slot = &uid;
		else if (strcmp(f->string, "message") == 0)
			slot = &msg;
		if (!slot || *slot) {
			snprintf(why, sizeof(why), "%s key", slot ? "repeated" : "unknown");
			goto bad;
		}
		*slot = f;
	}
	if (uid && !cJSON_IsNull(uid)) {
		if (!json_integer(uid, 0, 4294967294.0, &d)) {
			snprintf(why, sizeof(why), "uid is not a UID (0 to 4294967294)");
			goto bad;
		}
		key = (uint32_t)d;
	}
	if (!cJSON_IsString(msg)) {
		snprintf(why, sizeof(why), "message is missing or not a string");
		goto bad;
	}
	r = greeter_validate_message(msg->valuestring, strlen(msg->valuestring), &bad_text);
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
	r = greeter_entries_add(list, key, msg->valuestring);
	if (r == 0)
		return true;
	snprintf(why, sizeof(why), "%s", strerror(-r));
bad : {
	cJSON *e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, "index", (double)index);
	cJSON_AddStringToObject(e, "reason", why);
	varlink_call_error(c, "io.greeter.InvalidImport", e);
	return false;
}
}

static void method_import_messages(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { "messages", "replace", NULL };
	struct api *a = userdata;
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(p, "messages");
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(p, "replace");
	struct greeter_entries list = { 0 };
	struct pending_call *pending;
	const cJSON *item;
	size_t index = 0;
	char err[800];
	int r;

	if (!check_parameters(c, p, known))
		return;
	if (!cJSON_IsArray(msgs)) {
		varlink_call_error_invalid_parameter(c, "messages");
		return;
	}
	if (rep && !cJSON_IsNull(rep) && !cJSON_IsBool(rep)) {
		varlink_call_error_invalid_parameter(c, "replace");
		return;
	}
	if (varlink_call_peer(c)->uid != 0) {
		varlink_call_error(c, "io.greeter.PermissionDenied",
				   reason("only root may import messages"));
		return;
	}
	if (cJSON_GetArraySize(msgs) > GREETER_MAX_MESSAGES) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddNumberToObject(e, "index", GREETER_MAX_MESSAGES);
		cJSON_AddStringToObject(e, "reason",
					"more messages than the config map holds (16384)");
		varlink_call_error(c, "io.greeter.InvalidImport", e);
		return;
	}
	cJSON_ArrayForEach (item, msgs) {
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
	r = messages_import(&a->d->messages, &list, cJSON_IsTrue(rep), &pending->set,
			    &pending->removed, pending_done, pending, err, sizeof(err));
	pending_queued(pending, r, err);
}

static void method_get_status(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { NULL };
	struct api *a = userdata;
	struct daemon *d = a->d;
	const struct events_counters *ec = events_counters(d->events);
	__u64 stats[GREETER_STAT_MAX] = { 0 };
	__u64 ring_used = 0;
	uint64_t compactions = 0, compactions_failed = 0;
	struct utsname un;
	cJSON *r, *progs, *counters;

	if (!check_parameters(c, p, known))
		return;
	pins_read_stats(&d->pins, stats);
	uname(&un);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "version", GREETER_VERSION);
	cJSON_AddStringToObject(r, "attach_mode", attach_mode_name(d->pins.mode));
	cJSON_AddStringToObject(r, "attach_reason", d->pins.attach_reason);
	cJSON_AddStringToObject(r, "kernel_release", un.release);
	cJSON_AddStringToObject(r, "pin_dir", d->pins.dir);
	cJSON_AddStringToObject(r, "state_dir", d->opt.state_dir);
	cJSON_AddNumberToObject(r, "uptime_usec",
				(double)(now_usec(CLOCK_MONOTONIC) - d->start_usec));
	cJSON_AddNumberToObject(r, "messages", (double)messages_count(&d->messages));
	cJSON_AddNumberToObject(r, "watchers", (double)a->n_watchers);
	cJSON_AddNumberToObject(r, "ring_size", d->pins.ring_size);
	if (pins_ring_used(&d->pins, &ring_used) == 0)
		cJSON_AddNumberToObject(r, "ring_used", (double)ring_used);
	cJSON_AddNumberToObject(r, "replay_window", (double)d->opt.replay_window);
	cJSON_AddNumberToObject(
		r, "retained",
		(double)(events_window_end(d->events) - events_window_start(d->events)));
	if (d->messages.log)
		cJSON_AddNumberToObject(r, "change_log_size",
					(double)change_log_size(d->messages.log));
	cJSON_AddNumberToObject(r, "config_map_id", d->pins.config_map_id);
	cJSON_AddNumberToObject(r, "events_map_id", d->pins.events_map_id);
	cJSON_AddNumberToObject(r, "stats_map_id", d->pins.stats_map_id);
	progs = cJSON_AddArrayToObject(r, "programs");
	for (size_t i = 0; i < d->pins.prog_count; i++) {
		cJSON *pi = cJSON_CreateObject();

		cJSON_AddStringToObject(pi, "name", d->pins.progs[i].name);
		cJSON_AddNumberToObject(pi, "program_id", d->pins.progs[i].prog_id);
		cJSON_AddNumberToObject(pi, "link_id", d->pins.progs[i].link_id);
		cJSON_AddItemToArray(progs, pi);
	}
	counters = cJSON_AddObjectToObject(r, "counters");
	cJSON_AddNumberToObject(counters, "emitted", (double)stats[GREETER_STAT_EMITTED]);
	cJSON_AddNumberToObject(counters, "lost_kernel", (double)stats[GREETER_STAT_LOST]);
	cJSON_AddNumberToObject(counters, "failed_execs", (double)stats[GREETER_STAT_FAILED]);
	cJSON_AddNumberToObject(counters, "received", (double)ec->received);
	cJSON_AddNumberToObject(counters, "delivered", (double)a->delivered);
	cJSON_AddNumberToObject(counters, "dropped_watchers", (double)a->dropped);
	cJSON_AddNumberToObject(counters, "dropped_journal", (double)journal_dropped());
	cJSON_AddNumberToObject(counters, "dropped_late", (double)ec->late);
	cJSON_AddNumberToObject(counters, "repeated", (double)ec->repeated);
	cJSON_AddNumberToObject(counters, "malformed", (double)ec->malformed);
	if (d->messages.log)
		change_log_counts(d->messages.log, &compactions, &compactions_failed);
	cJSON_AddNumberToObject(counters, "compactions", (double)compactions);
	cJSON_AddNumberToObject(counters, "compactions_failed", (double)compactions_failed);
	varlink_call_reply(c, r, false);
}

/* Event stream */

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
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddStringToObject(o, "source", events_source_name(e->source));
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

static bool watcher_wants(const struct watcher *w, const struct greeter_event *e)
{
	if (!w->all_users && e->uid != w->peer_uid)
		return false;
	if (w->has_uid && e->uid != w->uid)
		return false;
	if (w->has_comm && strncmp(e->comm, w->comm, sizeof(w->comm)) != 0)
		return false;
	if (w->has_unit && strncmp(e->unit, w->unit, sizeof(w->unit)) != 0)
		return false;
	if ((e->flags & GREETER_EVENT_FAILED) && !w->include_failed)
		return false;
	return true;
}

/* The event at a window position as JSON text, written once for all watchers. */
static const char *event_text(struct api *a, uint64_t pos, const struct greeter_event *e)
{
	cJSON *obj;

	if (a->event_text && a->event_text_pos == pos)
		return a->event_text;
	free(a->event_text);
	obj = event_json(e);
	a->event_text = obj ? greeter_json_print(obj) : NULL;
	a->event_text_pos = pos;
	cJSON_Delete(obj);
	return a->event_text;
}

static void watcher_send(struct watcher *w, uint64_t pos, const struct greeter_event *e)
{
	const char *text = event_text(w->api, pos, e);
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
	if (varlink_call_reply_text(w->call, params, true) == 0)
		w->api->delivered++;
	free(params);
}

/*
 * Send what the watcher has not seen, as far as its socket takes it. Events
 * that left the window before it caught up are counted as dropped.
 */
static void watcher_pump(struct watcher *w)
{
	struct events *ev = w->api->d->events;
	uint64_t end = events_window_end(ev), start = events_window_start(ev);

	if (w->pos < start) {
		w->dropped += start - w->pos;
		w->dropped_total += start - w->pos;
		w->api->dropped += start - w->pos;
		w->pos = start;
	}
	size_t high = w->api->flushing ? WATCH_OUTPUT_FLUSH : WATCH_OUTPUT_HIGH;

	while (w->pos < end && varlink_call_output_pending(w->call) < high) {
		uint64_t pos = w->pos++;
		const struct greeter_event *e = events_window_at(ev, pos);

		if (e && watcher_wants(w, e))
			watcher_send(w, pos, e);
	}
}

static void on_event(const struct greeter_event *e, void *userdata)
{
	struct api *a = userdata;

	for (struct watcher *w = a->watchers, *next; w; w = next) {
		next = w->next;
		watcher_pump(w);
	}
}

/* A batch of events queued: into the sockets, one write per watcher. */
static void on_batch_end(void *userdata)
{
	struct api *a = userdata;

	for (struct watcher *w = a->watchers; w; w = w->next)
		varlink_call_flush(w->call);
}

static void watcher_on_drain(struct varlink_call *c, void *userdata)
{
	struct watcher *w = userdata;

	watcher_pump(w);
}

static void watcher_on_close(struct varlink_call *c, void *userdata)
{
	struct watcher *w = userdata;
	struct api *a = w->api;

	if (w->prev)
		w->prev->next = w->next;
	else
		a->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	a->n_watchers--;
	log_debug("watcher of UID %u left (%llu dropped)", w->peer_uid,
		  (unsigned long long)w->dropped_total);
	free(w);
}

/* The stream id as the API writes it: 16 hex digits (a JSON number loses bits). */
#define STREAM_ID_SIZE 17

static void format_stream_id(struct api *a, char out[STREAM_ID_SIZE])
{
	__u64 id = 0;

	pins_read_stream_id(&a->d->pins, &id);
	snprintf(out, STREAM_ID_SIZE, "%016llx", (unsigned long long)id);
}

static void method_watch_events(struct varlink_call *c, const cJSON *p, void *userdata)
{
	static const char *const known[] = { "uid",    "comm",		 "unit", "after_seq",
					     "stream", "include_failed", NULL };
	struct api *a = userdata;
	const struct events_counters *ec = events_counters(a->d->events);
	const cJSON *comm = cJSON_GetObjectItemCaseSensitive(p, "comm");
	const cJSON *unit = cJSON_GetObjectItemCaseSensitive(p, "unit");
	const cJSON *after = cJSON_GetObjectItemCaseSensitive(p, "after_seq");
	const cJSON *failed = cJSON_GetObjectItemCaseSensitive(p, "include_failed");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(p, "uid");
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(p, "stream");
	struct watcher *w;
	cJSON *first;
	double after_seq = -1;
	char stream_id[STREAM_ID_SIZE];

	if (!varlink_call_more(c)) {
		varlink_call_error(c, "org.varlink.service.ExpectedMore", NULL);
		return;
	}
	if (!check_parameters(c, p, known))
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		varlink_call_error(c, "io.greeter.WriteFailed", reason("out of memory"));
		return;
	}
	w->api = a;
	w->call = c;
	w->peer_uid = (uint32_t)varlink_call_peer(c)->uid;
	w->all_users = is_admin(a, varlink_call_peer(c));
	if (uid && !cJSON_IsNull(uid)) {
		w->has_uid = true;
		if (!get_uid(c, p, 0, &w->uid))
			goto fail;
	}
	if (comm && !cJSON_IsNull(comm)) {
		if (!cJSON_IsString(comm) || strlen(comm->valuestring) >= sizeof(w->comm)) {
			varlink_call_error_invalid_parameter(c, "comm");
			goto fail;
		}
		w->has_comm = true;
		snprintf(w->comm, sizeof(w->comm), "%s", comm->valuestring);
	}
	/* Longer than the kernel keeps, it could never match: refused, as a long comm is. */
	if (unit && !cJSON_IsNull(unit)) {
		if (!cJSON_IsString(unit) || strlen(unit->valuestring) >= sizeof(w->unit)) {
			varlink_call_error_invalid_parameter(c, "unit");
			goto fail;
		}
		w->has_unit = true;
		snprintf(w->unit, sizeof(w->unit), "%s", unit->valuestring);
	}
	if (failed && !cJSON_IsNull(failed)) {
		if (!cJSON_IsBool(failed)) {
			varlink_call_error_invalid_parameter(c, "include_failed");
			goto fail;
		}
		w->include_failed = cJSON_IsTrue(failed);
	}
	if (after && !cJSON_IsNull(after) && !json_integer(after, 0, JSON_INT_MAX, &after_seq)) {
		varlink_call_error_invalid_parameter(c, "after_seq");
		goto fail;
	}
	if (stream && !cJSON_IsNull(stream) &&
	    (!cJSON_IsString(stream) || strlen(stream->valuestring) >= STREAM_ID_SIZE)) {
		varlink_call_error_invalid_parameter(c, "stream");
		goto fail;
	}
	format_stream_id(a, stream_id);
	/* A sequence number of another stream says nothing here: from the start. */
	if (after_seq >= 0 && cJSON_IsString(stream) && strcmp(stream->valuestring, stream_id))
		after_seq = 0;
	if (!w->all_users && w->has_uid && w->uid != w->peer_uid) {
		char text[160];

		snprintf(text, sizeof(text),
			 "UID %u may watch only its own events; members of group %s watch all",
			 w->peer_uid, a->d->opt.admin_group);
		varlink_call_error(c, "io.greeter.PermissionDenied", reason(text));
		goto fail;
	}

	/* Catch up from the kernel so the first reply's seq is current. */
	events_drain(a->d->events);
	if (after_seq >= 0) {
		uint64_t seq = (uint64_t)after_seq, start = events_window_start(a->d->events);
		const struct greeter_event *oldest = events_window_at(a->d->events, start);

		w->pos = events_window_find_after(a->d->events, seq);
		/* Sequence numbers after seq that the window no longer holds. */
		if (oldest && oldest->seq > seq + 1)
			w->dropped = oldest->seq - seq - 1;
		else if (!oldest && ec->have_seq && ec->last_seq > seq)
			w->dropped = ec->last_seq - seq;
	} else {
		w->pos = events_window_end(a->d->events);
	}
	first = cJSON_CreateObject();
	if (ec->have_seq) {
		cJSON_AddNumberToObject(first, "seq", (double)ec->last_seq);
	} else {
		/* Nothing read yet: the kernel's counter says where the stream stands. */
		__u64 next = 0;

		pins_read_last_seq(&a->d->pins, &next);
		cJSON_AddNumberToObject(first, "seq", (double)next);
	}
	cJSON_AddStringToObject(first, "stream", stream_id);
	if (w->dropped) {
		cJSON_AddNumberToObject(first, "dropped", (double)w->dropped);
		w->dropped_total += w->dropped;
		w->dropped = 0;
	}
	if (varlink_call_reply(c, first, true) < 0) {
		free(w);
		return;
	}
	varlink_call_set_callbacks(c, w, watcher_on_drain, watcher_on_close);
	w->next = a->watchers;
	if (a->watchers)
		a->watchers->prev = w;
	a->watchers = w;
	a->n_watchers++;
	watcher_pump(w);
	return;
fail:
	free(w);
}

static const struct varlink_method methods[] = {
	{ "io.greeter.SetMessage", method_set_message },
	{ "io.greeter.GetMessage", method_get_message },
	{ "io.greeter.RemoveMessage", method_remove_message },
	{ "io.greeter.ListMessages", method_list_messages },
	{ "io.greeter.ImportMessages", method_import_messages },
	{ "io.greeter.GetStatus", method_get_status },
	{ "io.greeter.WatchEvents", method_watch_events },
};

size_t api_method_count(void);
const char *api_method_name(size_t i);

size_t api_method_count(void)
{
	return sizeof(methods) / sizeof(methods[0]);
}

const char *api_method_name(size_t i)
{
	return i < api_method_count() ? methods[i].name : NULL;
}

/* A batch of changes is on disk and applied. */
static void on_messages_changed(void *userdata)
{
	struct api *a = userdata;

	daemon_notify_status(a->d);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct api *a = userdata;

	daemon_notify_status(a->d);
	return sd_event_source_set_time_relative(s, STATUS_INTERVAL_USEC);
}

int daemon_api_start(struct daemon *d)
{
	struct varlink_server_options o = {
		.vendor = "greeter",
		.product = "greeterd",
		.version = GREETER_VERSION,
		.url = "https://github.com/greeter/greeter",
		.interface_name = "io.greeter",
		.interface_description = greeter_varlink_idl,
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
		.max_connections = MAX_CONNECTIONS,
		.max_connections_per_uid = MAX_CONNECTIONS_PER_UID,
		.reserved_connections = RESERVED_CONNECTIONS,
		.is_privileged = is_privileged,
		.max_message_size = MAX_REQUEST_SIZE,
		.max_root_message_size = MAX_ROOT_REQUEST_SIZE,
		.error_request_too_large = "io.greeter.RequestTooLarge",
		.error_too_many_connections = "io.greeter.TooManyConnections",
	};
	struct api *a = calloc(1, sizeof(*a));
	int n, r;

	if (!a)
		return -ENOMEM;
	a->d = d;
	a->sink = -1;
	a->list_tail = &a->list_head;
	d->api = a;
	o.userdata = a;
	r = varlink_server_new(&a->server, d->loop, &o);
	if (r < 0)
		goto fail;
	n = sd_listen_fds(1);
	if (n > 1) {
		log_error("received %d sockets from the service manager; expected one", n);
		r = -EINVAL;
		goto fail;
	}
	if (n == 1) {
		r = varlink_server_listen_fd(a->server, SD_LISTEN_FDS_START);
		log_info("serving on the socket passed by the service manager");
	} else {
		r = dirs_make_parents(d->opt.socket_path);
		if (r >= 0)
			r = varlink_server_listen_path(a->server, d->opt.socket_path, 0666);
		if (r < 0)
			log_error("cannot listen on %s: %s", d->opt.socket_path, strerror(-r));
		else
			log_info("serving on %s", d->opt.socket_path);
	}
	if (r < 0)
		goto fail;
	d->messages.changed = on_messages_changed;
	d->messages.changed_userdata = a;
	a->sink = events_add_sink(d->events, on_event, a);
	events_set_batch_end(d->events, on_batch_end, a);
	r = sd_event_add_defer(d->loop, &a->list_source, on_list_turn, a);
	if (r >= 0)
		r = sd_event_source_set_priority(a->list_source, SD_EVENT_PRIORITY_IDLE);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->list_source, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time_relative(d->loop, &a->list_timer, CLOCK_MONOTONIC,
					       LIST_TURN_MAX_USEC, 1000, on_list_timer, a);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->list_timer, SD_EVENT_OFF);
	if (r < 0)
		goto fail;
	r = sd_event_add_time_relative(d->loop, &a->status_timer, CLOCK_MONOTONIC,
				       STATUS_INTERVAL_USEC, 1000000, on_status_timer, a);
	if (r >= 0)
		r = sd_event_source_set_enabled(a->status_timer, SD_EVENT_ON);
	if (r >= 0)
		return 0;
fail:
	/* A start that fails leaves nothing behind. */
	daemon_api_stop(d);
	return r;
}

void daemon_api_stop(struct daemon *d)
{
	struct api *a = d->api;

	if (!a)
		return;
	/* Changes being written, and lists waiting, are answered before the calls end. */
	messages_flush(&d->messages);
	while (a->list_head)
		list_answer_one(a);
	d->messages.changed = NULL;
	/* Give every watcher what is queued for it before the calls end. */
	a->flushing = true;
	for (struct watcher *w = a->watchers; w; w = w->next)
		watcher_pump(w);
	if (a->server) {
		varlink_server_shutdown(a->server, SHUTDOWN_FLUSH_USEC);
		varlink_server_free(a->server);
	}
	if (d->events) {
		events_remove_sink(d->events, a->sink);
		events_set_batch_end(d->events, NULL, NULL);
	}
	sd_event_source_disable_unref(a->status_timer);
	sd_event_source_disable_unref(a->list_source);
	sd_event_source_disable_unref(a->list_timer);
	free(a->event_text);
	free(a->list_text);
	free(a);
	d->api = NULL;
}
