/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A varlink server on sd-event: NUL-terminated JSON messages on a Unix
 * stream socket, calls dispatched to a method table, streamed replies for
 * calls made with "more", and org.varlink.service built in (declared in
 * org.varlink.service.varlink, served through its generated tables).
 */
#ifndef GREETER_VARLINK_SERVER_H
#define GREETER_VARLINK_SERVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "varlink_idl.h"

struct varlink_server;
struct varlink_call;

struct varlink_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/*
	 * Every supplementary group at connect time (SO_PEERGROUPS, up to the
	 * kernel's NGROUPS_MAX), owned by the connection: valid while it is.
	 */
	gid_t *groups;
	size_t n_groups;
};

/*
 * A method handler. It must answer with varlink_call_reply() or
 * varlink_call_error() before returning, unless the call was made with
 * "more": then it may keep the call and reply later, as often as it likes,
 * until a reply without "continues" or an error ends the call.
 * parameters is always an object (an empty one when the call had none) and
 * is valid only until the handler returns. A call is freed once it has
 * ended (after the handler returns, when it ends inside it): do not touch it
 * afterwards. Replies are queued and written from the event loop, so no
 * varlink_* call made from a handler or callback frees a connection or runs
 * an on_close under the caller's feet.
 */
typedef void (*varlink_method_fn)(struct varlink_call *call, const cJSON *parameters,
				  void *userdata);

struct varlink_method {
	const char *name; /* fully qualified, e.g. "io.greeter.SetMessage" */
	varlink_method_fn fn;
	/*
	 * Its definition (varlink_idl_gen.py): a call is checked against it
	 * before fn runs (org.varlink.service.ExpectedMore, InvalidParameter
	 * naming the parameter), and fn reads the parameters from
	 * varlink_call_parameters(). NULL: fn checks them itself.
	 */
	const struct varlink_idl_method *idl;
};

struct varlink_server_options {
	const char *vendor;
	const char *product;
	const char *version;
	const char *url;
	const char *interface_name; /* e.g. "io.greeter" */
	const char *interface_description; /* the IDL text */
	const struct varlink_method *methods;
	size_t n_methods;
	void *userdata; /* passed to every handler */
	size_t max_connections;
	size_t max_connections_per_uid;
	/*
	 * Of max_connections, those only privileged peers may take: others are
	 * refused once max_connections - reserved_connections are open, so that
	 * no other user's connections leave root without a way in. Privileged:
	 * is_privileged(peer, userdata), or UID 0 without it. Of those,
	 * root_connections are UID 0's alone: no privileged user takes them.
	 */
	size_t reserved_connections;
	size_t root_connections;
	/*
	 * Memory one UID's connections may hold in replies not yet sent,
	 * together; a reply counts whole until its last byte is sent. Beyond
	 * it none of them starts a call until its client reads (0: 16 MiB).
	 */
	size_t max_output_per_uid;
	bool (*is_privileged)(const struct varlink_peer *peer, void *userdata);
	size_t max_message_size; /* a request larger than this: error, then close */
	size_t max_root_message_size; /* root's bound, when larger (bulk calls) */
	/* Error names the server itself sends (e.g. "io.greeter.RequestTooLarge"). */
	const char *error_request_too_large; /* parameter: limit */
	const char *error_too_many_connections; /* parameter: limit */
};

/*
 * o is copied, but its strings and method table must outlive the server.
 * Zero limits mean defaults (4096 connections, 128 per UID, 64 KiB messages).
 */
int varlink_server_new(struct varlink_server **out, sd_event *loop,
		       const struct varlink_server_options *o);
/* Serve on a listening socket (e.g. from sd_listen_fds()); taken on success. */
int varlink_server_listen_fd(struct varlink_server *s, int fd);
/* Create, bind and listen on path (a stale socket is replaced), chmod to mode. */
int varlink_server_listen_path(struct varlink_server *s, const char *path, mode_t mode);
/*
 * Serve connected socket fd as a client with peer's credentials, which are
 * copied (e.g. one end of a socketpair(), in a test of who may do what).
 * 0, or a negative errno (-EUSERS: over a connection limit, told so); fd
 * is taken either way.
 */
int varlink_server_add_connection(struct varlink_server *s, int fd,
				  const struct varlink_peer *peer);
size_t varlink_server_connection_count(const struct varlink_server *s);
/*
 * Stop accepting, end every open call (their close callbacks run) and write
 * what is queued, waiting at most timeout_usec for slow readers.
 * Not from a method handler or call callback.
 */
void varlink_server_shutdown(struct varlink_server *s, uint64_t timeout_usec);
void varlink_server_free(struct varlink_server *s);

const struct varlink_peer *varlink_call_peer(const struct varlink_call *c);
/*
 * The method's parameters as its IDL struct (struct <iface>_<method>_params),
 * checked; during the method's handler only (strings point into the call).
 */
const void *varlink_call_parameters(const struct varlink_call *c);
const char *varlink_call_method(const struct varlink_call *c);
bool varlink_call_more(const struct varlink_call *c);
/*
 * The handler will reply later (after returning), from the event loop:
 * for a call without "more" too. Until it does, the connection starts no
 * other call; set callbacks to learn when the connection goes away.
 */
void varlink_call_defer(struct varlink_call *c);
bool varlink_call_oneway(const struct varlink_call *c);

/*
 * Reply; takes ownership of parameters (NULL means {}). continues=true only
 * for calls made with "more". Oneway calls get no reply (parameters freed).
 * Returns 0, or a negative errno when the connection is gone.
 */
int varlink_call_reply(struct varlink_call *c, cJSON *parameters, bool continues);
/*
 * Reply with parameters already written as JSON text (an object): for one
 * event sent to many watchers, written once. Same rules as varlink_call_reply().
 */
int varlink_call_reply_text(struct varlink_call *c, const char *parameters_json, bool continues);

/*
 * Write what is queued on the call's connection into its socket now, as far
 * as the socket takes it, instead of on the next turn of the loop.
 */
void varlink_call_flush(struct varlink_call *c);
/* Error reply; ends the call. Takes ownership of parameters (may be NULL). */
int varlink_call_error(struct varlink_call *c, const char *error, cJSON *parameters);
/* org.varlink.service.InvalidParameter with {"parameter": name}. */
int varlink_call_error_invalid_parameter(struct varlink_call *c, const char *parameter);
/* org.varlink.service.ExpectedMore: for a streaming method called without "more". */
int varlink_call_error_expected_more(struct varlink_call *c);

/*
 * Bytes queued on the call's connection and not yet written. A connection
 * with more than 8 MiB queued is closed (on_close runs later, from the loop).
 */
size_t varlink_call_output_pending(const struct varlink_call *c);

/*
 * Whether the caller's UID holds its bound of replies not yet sent on all
 * its connections together: a reply that can wait (a stream's next event, a
 * large list) waits; on_drain runs on each of its open calls once the UID
 * is under the bound again.
 */
bool varlink_call_peer_backlogged(const struct varlink_call *c);

/*
 * For a call kept open ("more"): on_drain runs when the connection's output
 * queue has been written out; on_close runs once when the connection goes
 * away (or the server shuts down) while the call is still open; the call is
 * freed right after on_close returns.
 */
void varlink_call_set_callbacks(struct varlink_call *c, void *userdata,
				void (*on_drain)(struct varlink_call *c, void *userdata),
				void (*on_close)(struct varlink_call *c, void *userdata));

#endif
