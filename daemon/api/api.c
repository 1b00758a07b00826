// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The io.greeter varlink interface: messages, status and the event stream,
 * with who may do what decided from the caller's credentials.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"
#include "config.h"
#include "dirs.h"
#include "eventlog.h"
#include "heap_trim.h"
#include "json_print.h"
#include "log.h"
#include "utf8.h"
#include "validate.h"
#include "varlink_server.h"
#include "watchers.h"
#include "io.greeter.varlink.h"

#define MAX_CONNECTIONS 4096
#define MAX_CONNECTIONS_PER_UID 512
/* Of MAX_CONNECTIONS, kept for root and the admin group; of those, root's alone. */
#define RESERVED_CONNECTIONS 64
#define ROOT_CONNECTIONS 16
/*
 * Open files kept for greeterd's own work beside its clients (about 20 when
 * idle): pins and maps, the state directory and its files, the journal, the
 * name service, and the one accept() takes to refuse a connection.
 */
#define OWN_FILES 128
/* The admin group's GID is looked up again at most this often. */
#define ADMIN_GID_TTL_USEC (60 * 1000 * 1000)
#define MAX_REQUEST_SIZE (64 * 1024)
/* Root's calls may be larger: an ImportMessages of the map's 16,384 messages. */
#define MAX_ROOT_REQUEST_SIZE (4 * 1024 * 1024)
/* Replies of one UID's connections not yet sent, together; then its calls wait. */
#define MAX_OUTPUT_PER_UID (16 * 1024 * 1024)
/*
 * At shutdown, how long answering waiting lists, filling the watchers'
 * sockets and waiting for readers may take in all; what is left is dropped
 * (the next greeterd replays events).
 */
#define API_SHUTDOWN_USEC (2 * 1000 * 1000)
/* A ListMessages of more messages than this is answered from an idle-priority
 * source, one per turn of the loop: events are drained first. */
#define LIST_INLINE_MAX 1024
/* ... but one at least this often, however busy the loop: none starves. */
#define LIST_TURN_MAX_USEC (20 * 1000)


struct api {
	struct api_options o;
	struct varlink_server *server;
	struct watchers *watchers;
	/* ListMessages' reply as JSON, for the messages as of list_version. */
	char *list_text;
	uint64_t list_version;
	/* Large ListMessages calls waiting for their turn, oldest first. */
	struct list_wait *list_head, **list_tail;
	sd_event_source *list_source;
	sd_event_source *list_timer;
	sd_event_source *heap_trim; /* gives freed heap back to the kernel */
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

/*
 * An optional "uid" parameter: absent or null gives fallback. UIDs are
 * 0..4294967294; 4294967295 names nobody (it is the default message's key).
 */
static bool get_uid(struct varlink_call *c, bool has_uid, int64_t value, uint32_t fallback,
		    uint32_t *uid)
{
	if (!has_uid) {
		*uid = fallback;
		return true;
	}
	if (value < 0 || value > 4294967294) {
		varlink_call_error_invalid_parameter(c, "uid");
		return false;
	}
	*uid = (uint32_t)value;
	return true;
}

static cJSON *reason(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "reason", text);
	return p;
}

/* A reply the IDL's builder made; none: it ran out of memory. */
static void reply_built(struct varlink_call *c, cJSON *r)
{
	if (!r) {
		varlink_call_error(c, IO_GREETER_ERROR_WRITE_FAILED, reason("out of memory"));
		return;
	}
	varlink_call_reply(c, r, false);
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
		const struct group *g = getgrnam(a->o.admin_group);

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
	varlink_call_error(c, IO_GREETER_ERROR_PERMISSION_DENIED, reason(text));
	return false;
}

/* Methods */

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
		log_info("imported %zu message(s), removed %zu, by UID %u", p->set, p->removed,
			 peer);
		reply.set = (int64_t)p->set;
		reply.removed = (int64_t)p->removed;
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

static void method_set_message(struct varlink_call *c, const cJSON *p, void *userdata)
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

static void method_remove_message(struct varlink_call *c, const cJSON *p, void *userdata)
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

static void method_get_message(struct varlink_call *c, const cJSON *p, void *userdata)
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

static void method_list_messages(struct varlink_call *c, const cJSON *p, void *userdata)
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

static void method_import_messages(struct varlink_call *c, const cJSON *p, void *userdata)
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
	r = messages_import(a->o.messages, &list, in->replace, &pending->set,
			    &pending->removed, pending_done, pending, err, sizeof(err));
	pending_queued(pending, r, err);
}

static void method_get_status(struct varlink_call *c, const cJSON *p, void *userdata)
{
	struct api *a = userdata;
	const struct events_counters *ec = events_counters(a->o.events);
	struct io_greeter_program_info progs[KERNEL_STATUS_PROGS];
	struct messages_log_stats ls;
	struct kernel_status k;
	struct io_greeter_get_status_reply r;
	struct utsname un;
	size_t n_progs;

	a->o.kernel_status(a->o.kernel_userdata, &k);
	messages_log_stats(a->o.messages, &ls);
	uname(&un);
	n_progs = k.prog_count < KERNEL_STATUS_PROGS ? k.prog_count : KERNEL_STATUS_PROGS;
	for (size_t i = 0; i < n_progs; i++)
		progs[i] = (struct io_greeter_program_info){ .name = k.progs[i].name,
							     .program_id = k.progs[i].prog_id,
							     .link_id = k.progs[i].link_id };
	r = (struct io_greeter_get_status_reply){
		.version = GREETER_VERSION,
		.attach_mode = k.attach_mode,
		.attach_reason = k.attach_reason,
		.kernel_release = un.release,
		.pin_dir = k.pin_dir,
		.state_dir = a->o.state_dir,
		.uptime_usec = (int64_t)(now_usec(CLOCK_MONOTONIC) - a->o.start_usec),
		.messages = (int64_t)messages_count(a->o.messages),
		.watchers = (int64_t)watchers_count(a->watchers),
		.ring_size = k.ring_size,
		.has_ring_used = k.has_ring_used,
		.ring_used = (int64_t)k.ring_used,
		.replay_window = (int64_t)a->o.replay_window,
		.retained = (int64_t)(events_window_end(a->o.events) -
				      events_window_start(a->o.events)),
		.has_change_log_size = ls.open,
		.change_log_size = (int64_t)ls.size,
		.config_map_id = k.config_map_id,
		.events_map_id = k.events_map_id,
		.stats_map_id = k.stats_map_id,
		.programs = progs,
		.n_programs = n_progs,
		.counters = {
			.emitted = (int64_t)k.stats[GREETER_STAT_EMITTED],
			.lost_kernel = (int64_t)k.stats[GREETER_STAT_LOST],
			.failed_execs = (int64_t)k.stats[GREETER_STAT_FAILED],
			.received = (int64_t)ec->received,
			.delivered = (int64_t)watchers_delivered(a->watchers),
			.dropped_watchers = (int64_t)watchers_dropped(a->watchers),
			.dropped_journal = (int64_t)journal_dropped(),
			.dropped_print = (int64_t)print_sink_dropped(),
			.dropped_late = (int64_t)ec->late,
			.repeated = (int64_t)ec->repeated,
			.malformed = (int64_t)ec->malformed,
			.compactions = (int64_t)ls.compactions,
			.compactions_failed = (int64_t)ls.compactions_failed,
		},
	};
	reply_built(c, io_greeter_get_status_reply_json(&r));
}

/* Event stream */

/* The stream id as the API writes it: 16 hex digits (a JSON number loses bits). */
#define STREAM_ID_SIZE 17

static void method_watch_events(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_watch_events_params *in = varlink_call_parameters(c);
	struct api *a = userdata;
	const struct events_counters *ec = events_counters(a->o.events);
	struct watch_filter f = { 0 };
	struct events_cursor from;
	uint64_t dropped = 0;
	cJSON *first;
	int64_t after_seq = in->has_after_seq ? in->after_seq : -1;
	char stream_id[STREAM_ID_SIZE];
	__u64 last_seq, stream;

	f.peer_uid = (uint32_t)varlink_call_peer(c)->uid;
	f.all_users = is_admin(a, varlink_call_peer(c));
	f.has_uid = in->has_uid;
	if (in->has_uid && !get_uid(c, true, in->uid, 0, &f.uid))
		return;
	if (in->comm) {
		if (strlen(in->comm) >= sizeof(f.comm)) {
			varlink_call_error_invalid_parameter(c, "comm");
			return;
		}
		f.has_comm = true;
		snprintf(f.comm, sizeof(f.comm), "%s", in->comm);
	}
	/* Longer than the kernel keeps, it could never match: refused, as a long comm is. */
	if (in->unit) {
		if (strlen(in->unit) >= sizeof(f.unit)) {
			varlink_call_error_invalid_parameter(c, "unit");
			return;
		}
		f.has_unit = true;
		snprintf(f.unit, sizeof(f.unit), "%s", in->unit);
	}
	f.include_failed = in->include_failed;
	if (in->has_after_seq && in->after_seq < 0) {
		varlink_call_error_invalid_parameter(c, "after_seq");
		return;
	}
	if (in->stream && strlen(in->stream) >= STREAM_ID_SIZE) {
		varlink_call_error_invalid_parameter(c, "stream");
		return;
	}
	a->o.kernel_stream(a->o.kernel_userdata, &last_seq, &stream);
	snprintf(stream_id, sizeof(stream_id), "%016llx", (unsigned long long)stream);
	/* A sequence number of another stream says nothing here: from the start. */
	if (after_seq >= 0 && in->stream && strcmp(in->stream, stream_id))
		after_seq = 0;
	if (!f.all_users && f.has_uid && f.uid != f.peer_uid) {
		char text[160];

		snprintf(text, sizeof(text),
			 "UID %u may watch only its own events; members of group %s watch all",
			 f.peer_uid, a->o.admin_group);
		varlink_call_error(c, IO_GREETER_ERROR_PERMISSION_DENIED, reason(text));
		return;
	}

	/* Catch up from the kernel so the first reply's seq is current. */
	events_drain(a->o.events);
	if (after_seq >= 0) {
		uint64_t seq = (uint64_t)after_seq, start = events_window_start(a->o.events);
		const struct greeter_event *oldest = events_window_at(a->o.events, start);

		from = events_cursor_after_seq(a->o.events, seq);
		/* Sequence numbers after seq that the window no longer holds. */
		if (oldest && oldest->seq > seq + 1)
			dropped = oldest->seq - seq - 1;
		else if (!oldest && ec->have_seq && ec->last_seq > seq)
			dropped = ec->last_seq - seq;
	} else {
		from = events_cursor_at_end(a->o.events);
	}
	first = cJSON_CreateObject();
	if (ec->have_seq) {
		cJSON_AddNumberToObject(first, "seq", (double)ec->last_seq);
	} else {
		/* Nothing read yet: the kernel's counter says where the stream stands. */
		cJSON_AddNumberToObject(first, "seq", (double)last_seq);
	}
	cJSON_AddStringToObject(first, "stream", stream_id);
	if (dropped)
		cJSON_AddNumberToObject(first, "dropped", (double)dropped);
	if (varlink_call_reply(c, first, true) < 0)
		return;
	if (watchers_add(a->watchers, c, &f, from) < 0)
		varlink_call_error(c, IO_GREETER_ERROR_WRITE_FAILED, reason("out of memory"));
}

static const struct varlink_method methods[] = { IO_GREETER_METHODS(method_) };

/*
 * Each connection is an open file: under a lower open file limit the
 * connection limits shrink to fit it, so that accept() never fails for
 * want of one, which would leave root unanswered with the rest.
 */
static int fit_open_files(struct varlink_server_options *o)
{
	struct rlimit rl;
	size_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= OWN_FILES + MAX_CONNECTIONS)
		return 0;
	room = rl.rlim_cur > OWN_FILES ? rl.rlim_cur - OWN_FILES : 0;
	if (room < 2 * RESERVED_CONNECTIONS) {
		log_error("the open file limit (%llu) leaves room for %zu connections, fewer than "
			  "%d: raise it (LimitNOFILE=, ulimit -n)",
			  (unsigned long long)rl.rlim_cur, room, 2 * RESERVED_CONNECTIONS);
		return -EMFILE;
	}
	o->max_connections = room;
	o->max_connections_per_uid = room * MAX_CONNECTIONS_PER_UID / MAX_CONNECTIONS;
	log_info("the open file limit (%llu) allows %zu connections, %zu per UID",
		 (unsigned long long)rl.rlim_cur, room, o->max_connections_per_uid);
	return 0;
}

int api_start(struct api **out, const struct api_options *opt)
{
	struct varlink_server_options o = {
		.vendor = "greeter",
		.product = "greeterd",
		.version = GREETER_VERSION,
		.url = "https://github.com/greeter/greeter",
		.interface_name = IO_GREETER_INTERFACE,
		.interface_description = io_greeter_description,
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
		.max_connections = MAX_CONNECTIONS,
		.max_connections_per_uid = MAX_CONNECTIONS_PER_UID,
		.reserved_connections = RESERVED_CONNECTIONS,
		.root_connections = ROOT_CONNECTIONS,
		.max_output_per_uid = MAX_OUTPUT_PER_UID,
		.is_privileged = is_privileged,
		.max_message_size = MAX_REQUEST_SIZE,
		.max_root_message_size = MAX_ROOT_REQUEST_SIZE,
		.error_request_too_large = IO_GREETER_ERROR_REQUEST_TOO_LARGE,
		.error_too_many_connections = IO_GREETER_ERROR_TOO_MANY_CONNECTIONS,
	};
	struct api *a;
	int r;

	r = fit_open_files(&o);
	if (r < 0)
		return r;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *opt;
	a->list_tail = &a->list_head;
	o.userdata = a;
	/* Bursts of clients (and the BPF object's load before) leave the heap holding memory. */
	r = heap_trim_start(a->o.loop, &a->heap_trim);
	if (r >= 0)
		r = varlink_server_new(&a->server, a->o.loop, &o);
	if (r < 0)
		goto fail;
	if (a->o.listen_fd >= 0) {
		r = varlink_server_listen_fd(a->server, a->o.listen_fd);
		log_info("serving on the socket passed by the service manager");
	} else if (a->o.socket_path) {
		r = dirs_make_parents(a->o.socket_path);
		if (r >= 0)
			r = varlink_server_listen_path(a->server, a->o.socket_path, 0666);
		if (r < 0)
			log_error("cannot listen on %s: %s", a->o.socket_path, strerror(-r));
		else
			log_info("serving on %s", a->o.socket_path);
	}
	if (r < 0)
		goto fail;
	r = watchers_new(&a->watchers, a->o.loop, a->o.events);
	if (r >= 0)
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
	if (r >= 0) {
		*out = a;
		return 0;
	}
fail:
	/* A start that fails leaves nothing behind. */
	api_stop(a);
	return r;
}

int api_add_connection(struct api *a, int fd, const struct varlink_peer *peer)
{
	return varlink_server_add_connection(a->server, fd, peer);
}

void api_stop(struct api *a)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + API_SHUTDOWN_USEC, now;

	if (!a)
		return;
	/*
	 * Changes being written are answered before the calls end; lists
	 * waiting, as far as the callers' bounds and the time let them (a
	 * caller that does not read loses its list, not a change).
	 */
	messages_flush(a->o.messages, deadline);
	while (now_usec(CLOCK_MONOTONIC) < deadline && list_answer_one(a))
		;
	/* Every watcher gets what fits in its socket; the next greeterd replays the rest. */
	if (a->watchers)
		watchers_pump_all(a->watchers, deadline);
	if (a->server) {
		now = now_usec(CLOCK_MONOTONIC);
		varlink_server_shutdown(a->server, deadline > now ? deadline - now : 0);
		varlink_server_free(a->server);
	}
	watchers_free(a->watchers);
	sd_event_source_disable_unref(a->list_source);
	sd_event_source_disable_unref(a->list_timer);
	sd_event_source_disable_unref(a->heap_trim);
	free(a->list_text);
	free(a);
}
