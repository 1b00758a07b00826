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
#include "log.h"
#include "varlink_server.h"
#include "api_internal.h"
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

/* Parameters */

/*
 * An optional "uid" parameter: absent or null gives fallback. UIDs are
 * 0..4294967294; 4294967295 names nobody (it is the default message's key).
 */
bool get_uid(struct varlink_call *c, bool has_uid, int64_t value, uint32_t fallback,
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

cJSON *reason(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "reason", text);
	return p;
}

/* A reply the IDL's builder made; none: it ran out of memory. */
void reply_built(struct varlink_call *c, cJSON *r)
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

bool api_is_admin(struct api *a, const struct varlink_peer *peer)
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
	return api_is_admin(userdata, peer);
}

/* Root edits any message; others only their own UID's, never the default. */
bool may_edit(struct varlink_call *c, uint32_t uid)
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

/* Methods: the messages' in message_methods.c */

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
		.process_table_size = GREETER_PROCESS_MAX,
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
			.exits = (int64_t)k.stats[GREETER_STAT_EXITS],
			.processes = (int64_t)k.processes,
			.processes_evicted = (int64_t)k.processes_evicted,
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
	f.all_users = api_is_admin(a, varlink_call_peer(c));
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
	f.include_exits = in->exits;
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
		r = lists_start(a);
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
	lists_answer(a, deadline);
	/* Every watcher gets what fits in its socket; the next greeterd replays the rest. */
	if (a->watchers)
		watchers_pump_all(a->watchers, deadline);
	if (a->server) {
		now = now_usec(CLOCK_MONOTONIC);
		varlink_server_shutdown(a->server, deadline > now ? deadline - now : 0);
		varlink_server_free(a->server);
	}
	watchers_free(a->watchers);
	lists_free(a);
	sd_event_source_disable_unref(a->heap_trim);
	free(a);
}
