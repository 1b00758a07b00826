// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Protocol decisions (see varlink.org and systemd's sd-varlink):
 *
 * - Unparseable JSON (an empty message and invalid UTF-8 included) is logged
 *   at debug level and the connection is closed once earlier replies are
 *   written: we cannot tell what the peer meant, nor whether it wanted a
 *   reply.
 * - A parseable message that is not a well-formed call (not an object, no or
 *   bad "method", bad "parameters", non-boolean "oneway"/"more", both set,
 *   duplicate keys, a "\u0000" in any string since cJSON would silently
 *   truncate it) gets org.varlink.service.InvalidParameter naming the
 *   offending field (unless it asked for "oneway"); the connection stays.
 *   Unknown top-level keys are ignored for forward compatibility.
 * - One call at a time per connection: while a call made with "more" is
 *   open, later calls stay in the (bounded) input buffer, and reading stops
 *   when it is full, until the call ends. Likewise no new call is started
 *   while more than DISPATCH_OUTPUT_HIGH bytes of replies wait for a slow
 *   reader: backpressure instead of unbounded queues. The same holds for a
 *   UID as a whole: while its connections together hold max_output_per_uid
 *   bytes of replies not yet sent (each counted whole until its last byte
 *   goes), none of them starts a call, and what a handler asks
 *   (varlink_call_peer_backlogged()) tells it to hold its replies. Its own
 *   replies wait; nobody else's.
 * - Replies are only queued by varlink_call_reply() and friends; the socket
 *   is written from the event loop (a per-connection defer source), and a
 *   connection that must go away is closed from there too. So nothing a
 *   handler calls can free a connection or run on_close under its feet.
 */
#include "varlink_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json_members.h"
#include "log.h"
#include "org.varlink.service.varlink.h"
#include "varlink_wire.h"

#define OUTPUT_MAX (8u << 20) /* per connection; beyond it we close */
#define DISPATCH_OUTPUT_HIGH (256u << 10) /* no new calls while this much is queued */
#define DEFAULT_MAX_MESSAGE (64u << 10)
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_MAX_PER_UID 128
#define DEFAULT_MAX_OUTPUT_PER_UID (16u << 20)
#define METHOD_NAME_MAX 255
#define ACCEPT_BURST 32
#define ACCEPT_RETRY_USEC (100 * 1000)
#define RUN_ROUNDS 64
#define RUN_CALLS 64 /* calls started per turn of a connection */
#define REJECT_LOG_INTERVAL (10ull * 1000 * 1000)

struct listener {
	struct varlink_server *server;
	struct listener *next;
	sd_event_source *io;
	sd_event_source *retry; /* re-enables accepting after EMFILE and friends */
	uint64_t last_error_log;
	int fd;
	char *path; /* set when we created the socket file */
	dev_t dev;
	ino_t ino;
};

/* One UID's connections: how many, and the memory their unsent replies hold. */
struct peer_account {
	struct peer_account *next;
	uid_t uid;
	size_t conns;
	size_t output;
	bool backlogged; /* output reached the bound; its connections wait */
};

struct conn {
	struct varlink_server *server;
	struct peer_account *account;
	size_t accounted; /* of the account's output, this connection's */
	struct conn *prev, *next;
	unsigned id;
	int fd;
	sd_event_source *io;
	sd_event_source *kick;
	uint32_t events;
	struct varlink_peer peer;
	struct varlink_framer in;
	struct varlink_outbuf out;
	/* The call being handled or kept open; at most one at a time. */
	struct varlink_call *call;
	bool read_eof;
	bool hup;
	bool dead; /* close as soon as we are back in the loop */
	bool close_after_flush; /* stop taking calls; close once output is sent */
	bool running; /* inside conn_run() */
	bool drained; /* varlink_call_flush() wrote everything: on_drain is due */
};

struct varlink_call {
	struct conn *conn;
	char *method;
	bool more;
	bool oneway;
	bool ended;
	bool deferred; /* the handler replies later (varlink_call_defer()) */
	const void *parameters; /* the IDL's struct, during the handler */
	unsigned busy; /* we are inside one of its callbacks: free later */
	void *userdata;
	void (*on_drain)(struct varlink_call *c, void *userdata);
	void (*on_close)(struct varlink_call *c, void *userdata);
};

struct varlink_server {
	sd_event *loop;
	struct varlink_server_options o;
	struct listener *listeners;
	struct conn *conns;
	size_t n_conns;
	struct peer_account *accounts;
	unsigned next_id;
	bool shutting_down;
	cJSON *empty; /* shared {} for calls without parameters */
	uint64_t last_reject_log;
	unsigned rejects_unlogged;
};

static void conn_run(struct conn *c, bool do_read);

/* The largest request the connection's peer may send. */
static size_t conn_message_max(const struct conn *c)
{
	const struct varlink_server_options *o = &c->server->o;

	return c->peer.uid == 0 && o->max_root_message_size > o->max_message_size
		       ? o->max_root_message_size
		       : o->max_message_size;
}

static void conn_kick(struct conn *c)
{
	/* conn_run() looks at everything before it returns. */
	if (!c->running && c->kick)
		(void)sd_event_source_set_enabled(c->kick, SD_EVENT_ONESHOT);
}

static void conn_kill(struct conn *c)
{
	c->dead = true;
	conn_kick(c);
}

/*
 * Bring the UID's account up to date with what c's output buffer holds.
 * Held, not unsent: a reply read all but its end still holds its whole
 * buffer, so counting what is left to send would let a client that reads
 * most of every reply make greeterd hold any number of them. Giving back
 * the sent part as it goes instead would cost a copy per write and leave
 * the bound to the allocator; a buffer is freed once sent, so what is held
 * is always the client's to release by reading. When the UID falls under
 * half the bound, its connections go on: each is run, and a call kept open
 * hears on_drain (it may have held its replies).
 */
static void conn_account(struct conn *c)
{
	struct peer_account *a = c->account;
	size_t now = varlink_outbuf_held(&c->out);

	a->output = a->output - c->accounted + now;
	c->accounted = now;
	if (a->output >= c->server->o.max_output_per_uid) {
		a->backlogged = true;
		return;
	}
	/* Half the bound read first: not a wake-up of them all per reply. */
	if (!a->backlogged || a->output >= c->server->o.max_output_per_uid / 2)
		return;
	a->backlogged = false;
	for (struct conn *i = c->server->conns; i; i = i->next)
		if (i->account == a && !i->dead) {
			i->drained = true;
			conn_kick(i);
		}
}

static void call_free(struct varlink_call *call)
{
	if (call->conn && call->conn->call == call)
		call->conn->call = NULL;
	free(call->method);
	free(call);
}

/* The call got its last reply: forget it and let the connection go on. */
static void call_end(struct varlink_call *call)
{
	struct conn *c = call->conn;

	call->ended = true;
	if (call->busy)
		return;
	call_free(call);
	conn_kick(c);
}

/* Run the call's on_close (if still open) and free it. */
static void call_close(struct varlink_call *call)
{
	if (!call->ended && call->on_close) {
		call->busy++;
		call->on_close(call, call->userdata);
		call->busy--;
	}
	call_free(call);
}

/* Queue a whole message; takes msg. Kills the connection on failure. */
static int conn_send(struct conn *c, cJSON *msg)
{
	int r;

	if (c->dead) {
		cJSON_Delete(msg);
		return -ENOTCONN;
	}
	r = msg ? varlink_outbuf_append_json(&c->out, msg) : -ENOMEM;
	cJSON_Delete(msg);
	conn_account(c);
	if (r < 0) {
		if (r == -ENOBUFS)
			log_debug("connection %u (UID %u): more than %u bytes queued, closing",
				  c->id, (unsigned)c->peer.uid, OUTPUT_MAX);
		else
			log_warning("connection %u: cannot queue reply: %s", c->id, strerror(-r));
		conn_kill(c);
		return r;
	}
	conn_kick(c);
	return 0;
}

/* {"error": name, "parameters": params}; takes params (NULL means {}). */
static cJSON *error_message(const char *name, cJSON *params)
{
	cJSON *m = cJSON_CreateObject();

	if (!params)
		params = cJSON_CreateObject();
	if (!m || !params || !cJSON_AddStringToObject(m, "error", name) ||
	    !cJSON_AddItemToObject(m, "parameters", params)) {
		cJSON_Delete(m);
		cJSON_Delete(params);
		return NULL;
	}
	return m;
}

static cJSON *one_string(const char *key, const char *value)
{
	cJSON *p = cJSON_CreateObject();

	if (p && !cJSON_AddStringToObject(p, key, value)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static cJSON *one_number(const char *key, double value)
{
	cJSON *p = cJSON_CreateObject();

	if (p && !cJSON_AddNumberToObject(p, key, value)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* An error not tied to a call object (malformed call, limits). */
static void conn_send_error(struct conn *c, const char *name, cJSON *params)
{
	cJSON *p = params;

	if (!p) {
		conn_kill(c);
		return;
	}
	conn_send(c, error_message(name, p));
}

const struct varlink_peer *varlink_call_peer(const struct varlink_call *c)
{
	return &c->conn->peer;
}

const char *varlink_call_method(const struct varlink_call *c)
{
	return c->method;
}

void varlink_call_defer(struct varlink_call *c)
{
	c->deferred = true;
}

const void *varlink_call_parameters(const struct varlink_call *c)
{
	return c->parameters;
}

bool varlink_call_more(const struct varlink_call *c)
{
	return c->more;
}

bool varlink_call_oneway(const struct varlink_call *c)
{
	return c->oneway;
}

size_t varlink_call_output_pending(const struct varlink_call *c)
{
	return varlink_outbuf_pending(&c->conn->out);
}

void varlink_call_set_callbacks(struct varlink_call *c, void *userdata,
				void (*on_drain)(struct varlink_call *c, void *userdata),
				void (*on_close)(struct varlink_call *c, void *userdata))
{
	c->userdata = userdata;
	c->on_drain = on_drain;
	c->on_close = on_close;
}

int varlink_call_reply(struct varlink_call *c, cJSON *parameters, bool continues)
{
	cJSON *m;
	int r;

	if (!c || c->ended) {
		cJSON_Delete(parameters);
		return -ESTALE;
	}
	if (continues && !c->more) {
		/* The peer did not ask for more: it would take this as the end. */
		log_error("BUG: %s: continued reply to a call without \"more\"", c->method);
		cJSON_Delete(parameters);
		return -EINVAL;
	}
	if (c->oneway) {
		cJSON_Delete(parameters);
		call_end(c);
		return 0;
	}
	if (!parameters)
		parameters = cJSON_CreateObject();
	m = cJSON_CreateObject();
	if (!m || !parameters || !cJSON_AddItemToObject(m, "parameters", parameters)) {
		cJSON_Delete(parameters);
		cJSON_Delete(m);
		m = NULL;
	} else if (continues && !cJSON_AddTrueToObject(m, "continues")) {
		cJSON_Delete(m);
		m = NULL;
	}
	r = conn_send(c->conn, m);
	if (!continues)
		call_end(c);
	return r;
}

int varlink_call_reply_text(struct varlink_call *c, const char *parameters_json, bool continues)
{
	static const char head[] = "{\"parameters\":";
	static const char tail_more[] = ",\"continues\":true}";
	size_t n = strlen(parameters_json);
	char *m;
	int r;

	if (!c || c->ended)
		return -ESTALE;
	if (continues && !c->more) {
		log_error("BUG: %s: continued reply to a call without \"more\"", c->method);
		return -EINVAL;
	}
	if (c->oneway) {
		call_end(c);
		return 0;
	}
	if (c->conn->dead)
		return -ENOTCONN;
	m = malloc(sizeof(head) + n + sizeof(tail_more) + 1);
	if (!m)
		return -ENOMEM;
	memcpy(m, head, sizeof(head) - 1);
	memcpy(m + sizeof(head) - 1, parameters_json, n);
	/* Ends with the NUL that separates messages. */
	strcpy(m + sizeof(head) - 1 + n, continues ? tail_more : "}");
	r = varlink_outbuf_append(&c->conn->out, m, strlen(m) + 1);
	free(m);
	conn_account(c->conn);
	if (r < 0) {
		log_debug("connection %u (UID %u): more than %u bytes queued, closing", c->conn->id,
			  (unsigned)c->conn->peer.uid, OUTPUT_MAX);
		conn_kill(c->conn);
	} else {
		conn_kick(c->conn);
	}
	if (!continues)
		call_end(c);
	return r;
}

void varlink_call_flush(struct varlink_call *c)
{
	/* Errors and what the socket did not take are the loop's business. */
	if (!c || c->ended || c->conn->dead || varlink_outbuf_pending(&c->conn->out) == 0)
		return;
	/* The socket was full: the loop writes when it takes more. */
	if (c->conn->events & EPOLLOUT)
		return;
	if (varlink_outbuf_flush(&c->conn->out, c->conn->fd) == 0) {
		/* conn_flush() would not see the queue go empty: on_drain is due. */
		c->conn->drained = true;
		conn_kick(c->conn);
	}
	conn_account(c->conn);
}

int varlink_call_error(struct varlink_call *c, const char *error, cJSON *parameters)
{
	int r;

	if (!c || c->ended) {
		cJSON_Delete(parameters);
		return -ESTALE;
	}
	if (c->oneway) {
		cJSON_Delete(parameters);
		call_end(c);
		return 0;
	}
	r = conn_send(c->conn, error_message(error, parameters));
	call_end(c);
	return r;
}

int varlink_call_error_invalid_parameter(struct varlink_call *c, const char *parameter)
{
	cJSON *p = one_string("parameter", parameter);

	if (!p && c && !c->ended)
		conn_kill(c->conn);
	return varlink_call_error(c, ORG_VARLINK_SERVICE_ERROR_INVALID_PARAMETER, p);
}

int varlink_call_error_expected_more(struct varlink_call *c)
{
	return varlink_call_error(c, ORG_VARLINK_SERVICE_ERROR_EXPECTED_MORE, NULL);
}

/* A reply the IDL's builder made; none: out of memory, the connection goes. */
static void reply_built(struct varlink_call *c, cJSON *parameters)
{
	if (!parameters) {
		conn_kill(c->conn);
		varlink_call_error(c, ORG_VARLINK_SERVICE_ERROR_METHOD_NOT_IMPLEMENTED, NULL);
		return;
	}
	varlink_call_reply(c, parameters, false);
}

static void builtin_get_info(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct varlink_server_options *o = &((struct varlink_server *)userdata)->o;
	const char *interfaces[] = { ORG_VARLINK_SERVICE_INTERFACE, o->interface_name };
	struct org_varlink_service_get_info_reply r = {
		.vendor = o->vendor ? o->vendor : "",
		.product = o->product ? o->product : "",
		.version = o->version ? o->version : "",
		.url = o->url ? o->url : "",
		.interfaces = interfaces,
		.n_interfaces = o->interface_name ? 2 : 1,
	};

	reply_built(c, org_varlink_service_get_info_reply_json(&r));
}

static void builtin_get_interface_description(struct varlink_call *c, const cJSON *p,
					      void *userdata)
{
	const struct org_varlink_service_get_interface_description_params *in =
		varlink_call_parameters(c);
	const struct varlink_server_options *o = &((struct varlink_server *)userdata)->o;
	struct org_varlink_service_get_interface_description_reply r = { 0 };
	cJSON *e;

	if (strcmp(in->interface, ORG_VARLINK_SERVICE_INTERFACE) == 0)
		r.description = org_varlink_service_description;
	else if (o->interface_name && o->interface_description &&
		 strcmp(in->interface, o->interface_name) == 0)
		r.description = o->interface_description;
	if (!r.description) {
		e = one_string("interface", in->interface);
		if (!e)
			conn_kill(c->conn);
		varlink_call_error(c, ORG_VARLINK_SERVICE_ERROR_INTERFACE_NOT_FOUND, e);
		return;
	}
	reply_built(c, org_varlink_service_get_interface_description_reply_json(&r));
}

/* Served for every server, with the server as userdata. */
static const struct varlink_method builtins[] = { ORG_VARLINK_SERVICE_METHODS(builtin_) };

static bool is_alpha(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static bool is_alnum(char ch)
{
	return is_alpha(ch) || (ch >= '0' && ch <= '9');
}

/*
 * "<interface>.<Member>" as in the varlink grammar: interface
 * [A-Za-z]([-]*[A-Za-z0-9])*(\.[A-Za-z0-9]([-]*[A-Za-z0-9])*)+, member
 * [A-Z][A-Za-z0-9]*. Sets *iface_len. Checked before any name is echoed.
 */
static bool method_name_valid(const char *m, size_t *iface_len)
{
	size_t len = strnlen(m, METHOD_NAME_MAX + 1), dots = 0;
	const char *dot = strrchr(m, '.');

	if (len > METHOD_NAME_MAX || !dot || dot == m)
		return false;
	if (!(dot[1] >= 'A' && dot[1] <= 'Z'))
		return false;
	for (const char *p = dot + 2; *p; p++)
		if (!is_alnum(*p))
			return false;
	if (!is_alpha(m[0]))
		return false;
	for (const char *p = m; p < dot; p++) {
		if (*p == '.') {
			/* A segment starts with an alphanumeric, none ends with '-'. */
			if (p[-1] == '-' || !is_alnum(p[1]))
				return false;
			dots++;
		} else if (*p != '-' && !is_alnum(*p)) {
			return false;
		}
	}
	if (dot[-1] == '-' || dots == 0)
		return false;
	*iface_len = (size_t)(dot - m);
	return true;
}

/* The method, the server's own (its userdata the server) or the interface's. */
static const struct varlink_method *method_find(struct varlink_server *s, const char *name,
						void **userdata)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(name, builtins[i].name) == 0) {
			*userdata = s;
			return &builtins[i];
		}
	for (size_t i = 0; i < s->o.n_methods; i++)
		if (strcmp(name, s->o.methods[i].name) == 0) {
			*userdata = s->o.userdata;
			return &s->o.methods[i];
		}
	return NULL;
}

static bool interface_known(const struct varlink_server *s, const char *m, size_t len)
{
	const char *names[] = { ORG_VARLINK_SERVICE_INTERFACE, s->o.interface_name };

	for (size_t i = 0; i < 2; i++)
		if (names[i] && strlen(names[i]) == len && memcmp(names[i], m, len) == 0)
			return true;
	for (size_t i = 0; i < s->o.n_methods; i++) {
		const char *t = s->o.methods[i].name, *dot = strrchr(t, '.');

		if (dot && (size_t)(dot - t) == len && memcmp(t, m, len) == 0)
			return true;
	}
	return false;
}

static void conn_dispatch(struct conn *c, const char *msg, size_t len)
{
	static const char *const keys[] = { "method", "parameters", "oneway", "more", "upgrade" };
	struct varlink_server *s = c->server;
	const cJSON *field[5] = { 0 };
	const char *bad = NULL, *name;
	bool oneway = false, more = false;
	const struct varlink_method *method;
	const struct varlink_idl_method *idl;
	void *parameters = NULL;
	void *userdata = NULL;
	struct varlink_call *call;
	size_t iface_len = 0;
	int member, sub;
	cJSON *root;

	/* JSON text is UTF-8; len + 1: cJSON must see the NUL to reject trailing garbage. */
	root = varlink_utf8_valid(msg, len) ? cJSON_ParseWithLengthOpts(msg, len + 1, NULL, true)
					    : NULL;
	if (!root) {
		log_debug("connection %u (UID %u): invalid JSON, closing", c->id,
			  (unsigned)c->peer.uid);
		c->close_after_flush = true;
		return;
	}
	if (!cJSON_IsObject(root)) {
		bad = "method";
		goto invalid;
	}
	/* Unknown top-level keys are ignored (forward compatibility). */
	if (json_members(root, keys, 5, field, true, &bad) < 0)
		goto invalid;
	if (field[2] && !cJSON_IsBool(field[2])) {
		bad = "oneway";
		goto invalid;
	}
	oneway = cJSON_IsTrue(field[2]);
	if (field[3] && !cJSON_IsBool(field[3])) {
		bad = "more";
		goto invalid;
	}
	more = cJSON_IsTrue(field[3]);
	if (oneway && more) {
		oneway = false;
		bad = "more";
		goto invalid;
	}
	/* No protocol upgrades here. */
	if (field[4] && !cJSON_IsFalse(field[4])) {
		bad = "upgrade";
		goto invalid;
	}
	if (varlink_json_find_escaped_nul(msg, len, &member, &sub)) {
		/* A string cJSON would cut short: name the parameter holding it. */
		const cJSON *m = member >= 0 ? cJSON_GetArrayItem(root, member) : NULL;
		const cJSON *p = m && m == field[1] && sub >= 0 ? cJSON_GetArrayItem(m, sub) : NULL;

		if (p && p->string)
			bad = p->string;
		else if (m && m != field[1] && m->string)
			bad = m->string;
		else
			bad = "parameters";
		goto invalid;
	}
	if (!cJSON_IsString(field[0]) || !method_name_valid(field[0]->valuestring, &iface_len)) {
		bad = "method";
		goto invalid;
	}
	if (field[1] && !cJSON_IsObject(field[1]) && !cJSON_IsNull(field[1])) {
		bad = "parameters";
		goto invalid;
	}
	name = field[0]->valuestring;

	method = method_find(s, name, &userdata);
	if (!method && interface_known(s, name, iface_len)) {
		if (!oneway)
			conn_send_error(c, ORG_VARLINK_SERVICE_ERROR_METHOD_NOT_FOUND,
					one_string("method", name));
		goto done;
	}
	if (!method) {
		char iface[METHOD_NAME_MAX + 1];

		memcpy(iface, name, iface_len);
		iface[iface_len] = '\0';
		if (!oneway)
			conn_send_error(c, ORG_VARLINK_SERVICE_ERROR_INTERFACE_NOT_FOUND,
					one_string("interface", iface));
		goto done;
	}
	idl = method->idl;

	/* The call as the IDL has it, before the method sees it. */
	if (idl && idl->requires_more && !more) {
		if (!oneway)
			conn_send_error(c, ORG_VARLINK_SERVICE_ERROR_EXPECTED_MORE,
					cJSON_CreateObject());
		goto done;
	}
	if (idl) {
		parameters = calloc(1, idl->parameters.size);
		if (!parameters) {
			conn_kill(c);
			goto done;
		}
		if (varlink_idl_dispatch(&idl->parameters,
					 cJSON_IsObject(field[1]) ? field[1] : NULL, parameters,
					 &bad) < 0)
			goto invalid;
	}

	call = calloc(1, sizeof(*call));
	if (!call || !(call->method = strdup(name))) {
		free(call);
		conn_kill(c);
		goto done;
	}
	call->parameters = parameters;
	call->conn = c;
	call->more = more;
	call->oneway = oneway;
	call->busy = 1;
	c->call = call;
	method->fn(call, cJSON_IsObject(field[1]) ? field[1] : s->empty, userdata);
	call->parameters = NULL;
	if (!call->ended && !more && !call->deferred) {
		if (!oneway)
			log_error("BUG: method %s returned without replying", name);
		varlink_call_error(call, ORG_VARLINK_SERVICE_ERROR_METHOD_NOT_IMPLEMENTED,
				   one_string("method", name));
	}
	call->busy = 0;
	if (call->ended)
		call_free(call);
	goto done;

invalid:
	if (!oneway)
		conn_send_error(c, ORG_VARLINK_SERVICE_ERROR_INVALID_PARAMETER,
				one_string("parameter", bad));
done:
	free(parameters);
	cJSON_Delete(root);
}

/* Read what the socket and the input buffer allow. */
static void conn_read(struct conn *c)
{
	while (!c->read_eof && !c->dead && !c->close_after_flush) {
		char *p;
		ssize_t room = varlink_framer_space(&c->in, &p), n;

		if (room < 0) {
			conn_kill(c);
			return;
		}
		if (room == 0)
			return;
		n = recv(c->fd, p, (size_t)room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNRESET) {
				c->read_eof = c->hup = true;
				return;
			}
			log_debug("connection %u: read: %s", c->id, strerror(errno));
			conn_kill(c);
			return;
		}
		if (n == 0) {
			c->read_eof = true;
			return;
		}
		varlink_framer_commit(&c->in, (size_t)n);
		if (n < room)
			return; /* the socket is empty */
	}
}

/* Returns whether anything was written. */
static bool conn_flush(struct conn *c)
{
	size_t before = varlink_outbuf_pending(&c->out);
	struct varlink_call *call = c->call;
	int r = 0;

	if ((before == 0 && !c->drained) || c->dead)
		return false;
	c->drained = false;
	if (before > 0) {
		r = varlink_outbuf_flush(&c->out, c->fd);
		conn_account(c);
	}
	if (r < 0 && r != -EAGAIN) {
		log_debug("connection %u: write: %s", c->id, strerror(-r));
		c->dead = true;
		return false;
	}
	if (r == 0 && call && !call->ended && call->on_drain) {
		call->busy++;
		call->on_drain(call, call->userdata);
		call->busy--;
		if (call->ended)
			call_free(call);
	}
	/*
	 * What on_drain queued, or wrote out itself (varlink_call_flush() sets
	 * drained, and cannot kick a running connection), counts as work: the
	 * loop goes round once more.
	 */
	return varlink_outbuf_pending(&c->out) != before || c->drained;
}

/* Start the calls that are waiting, as far as we may. Returns how many. */
static unsigned conn_dispatch_some(struct conn *c, unsigned budget)
{
	unsigned n = 0;

	while (n < budget && !c->dead && !c->close_after_flush && !c->call &&
	       !c->server->shutting_down && !c->account->backlogged &&
	       varlink_outbuf_pending(&c->out) < DISPATCH_OUTPUT_HIGH) {
		const char *msg;
		size_t len;
		int r = varlink_framer_next(&c->in, &msg, &len);

		if (r == VARLINK_FRAME_NEED_MORE)
			break;
		if (r < 0) {
			const char *err = c->server->o.error_request_too_large;

			log_debug("connection %u (UID %u): request over %zu bytes, closing", c->id,
				  (unsigned)c->peer.uid, conn_message_max(c));
			if (err)
				conn_send_error(c, err,
						one_number("limit", (double)conn_message_max(c)));
			c->close_after_flush = true;
			break;
		}
		conn_dispatch(c, msg, len);
		n++;
	}
	return n;
}

static void account_put(struct varlink_server *s, struct peer_account *a);

static void conn_free(struct conn *c)
{
	struct varlink_server *s = c->server;

	c->dead = true;
	if (c->call)
		call_close(c->call);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->kick);
	close(c->fd);
	varlink_framer_done(&c->in);
	varlink_outbuf_done(&c->out);
	conn_account(c);
	c->account->conns--;
	account_put(s, c->account);
	log_debug("connection %u closed", c->id);
	free(c->peer.groups);
	free(c);
}

/* The UID's account, made when its first connection comes; NULL without memory. */
static struct peer_account *account_get(struct varlink_server *s, uid_t uid)
{
	struct peer_account *a;

	for (a = s->accounts; a; a = a->next)
		if (a->uid == uid)
			return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->uid = uid;
	a->next = s->accounts;
	s->accounts = a;
	return a;
}

/* Forget the account once its last connection is gone. */
static void account_put(struct varlink_server *s, struct peer_account *a)
{
	if (a->conns > 0)
		return;
	for (struct peer_account **p = &s->accounts; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	free(a);
}

static void conn_run(struct conn *c, bool do_read)
{
	unsigned budget = RUN_CALLS;
	bool busy = false;
	uint32_t events = 0;

	c->running = true;
	if (do_read)
		conn_read(c);
	for (unsigned i = 0;; i++) {
		bool wrote = conn_flush(c);
		unsigned n = conn_dispatch_some(c, budget);

		budget -= n;
		if (!wrote && n == 0)
			break;
		/* A client with many calls queued must not hold the loop. */
		if (i == RUN_ROUNDS || budget == 0) {
			/* Let other sources in; come back soon. */
			busy = true;
			break;
		}
	}
	c->running = false;

	if (!busy &&
	    (c->dead || c->hup ||
	     (varlink_outbuf_pending(&c->out) == 0 &&
	      (c->close_after_flush || (c->read_eof && !c->call))))) {
		/* With a call left open, a half-closed peer still gets replies. */
		conn_free(c);
		return;
	}
	if (busy)
		conn_kick(c);
	if (!c->read_eof && !c->close_after_flush && !varlink_framer_full(&c->in))
		events |= EPOLLIN;
	if (varlink_outbuf_pending(&c->out) > 0)
		events |= EPOLLOUT;
	if (events != c->events && sd_event_source_set_io_events(c->io, events) >= 0)
		c->events = events;
}

static int conn_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;

	/* Both mean the peer is gone for good: read what it left, then close. */
	if (revents & (EPOLLHUP | EPOLLERR))
		c->hup = true;
	conn_run(c, revents & (EPOLLIN | EPOLLHUP | EPOLLERR));
	return 0;
}

static int conn_on_kick(sd_event_source *src, void *userdata)
{
	struct conn *c = userdata;

	if (c->server->shutting_down)
		return 0;
	conn_run(c, false);
	return 0;
}

/* Over a limit: say so as a bare error and hang up. */
static void reject(struct varlink_server *s, int fd, const struct varlink_peer *peer, size_t limit)
{
	const char *name = s->o.error_too_many_connections;
	uint64_t now = now_usec(CLOCK_MONOTONIC);

	if (name) {
		cJSON *m = error_message(name, one_number("limit", (double)limit));
		char *text = m ? cJSON_PrintUnformatted(m) : NULL;

		/* A fresh socket's buffer is empty: this fits or nothing does. */
		if (text)
			(void)send(fd, text, strlen(text) + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(text);
		cJSON_Delete(m);
	}
	close(fd);
	/* A flood of connections must not become a flood of log lines. */
	if (s->last_reject_log && now - s->last_reject_log < REJECT_LOG_INTERVAL) {
		s->rejects_unlogged++;
		return;
	}
	log_warning("refusing connection from UID %u PID %d: limit of %zu reached (%u more "
		    "refused before)",
		    (unsigned)peer->uid, (int)peer->pid, limit, s->rejects_unlogged);
	s->last_reject_log = now;
	s->rejects_unlogged = 0;
}

/*
 * Every supplementary group of the peer. The kernel says ERANGE, and how
 * much it has, when the buffer is too small: grow to that, up to
 * NGROUPS_MAX. The groups were fixed at connect(), so a second try fits.
 * On failure the peer has no groups: it is given less, never more.
 */
static void peer_groups(int fd, struct varlink_peer *peer)
{
	socklen_t size = 64 * sizeof(gid_t);
	gid_t *buf = NULL;
	int err = EAGAIN;

	peer->groups = NULL;
	peer->n_groups = 0;
	for (int tries = 0; tries < 4; tries++) {
		socklen_t len = size;
		gid_t *p = realloc(buf, size);

		if (!p) {
			err = ENOMEM;
			break;
		}
		buf = p;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0) {
			if (len > size)
				break;
			peer->n_groups = len / sizeof(gid_t);
			if (peer->n_groups)
				peer->groups = buf;
			else
				free(buf);
			return;
		}
		err = errno;
		if (err != ERANGE || len <= size || len > NGROUPS_MAX * sizeof(gid_t))
			break;
		size = len;
	}
	log_warning("cannot get the supplementary groups of UID %u PID %d (%s): it is treated "
		    "as a member of none",
		    (unsigned)peer->uid, (int)peer->pid, strerror(err));
	free(buf);
}

/* The connections open at most when peer connects: root's reserve, then the others'. */
static size_t conn_limit(const struct varlink_server *s, const struct varlink_peer *peer)
{
	const struct varlink_server_options *o = &s->o;

	if (peer->uid == 0)
		return o->max_connections;
	if (o->is_privileged && o->is_privileged(peer, o->userdata))
		return o->max_connections - o->root_connections;
	return o->max_connections - o->reserved_connections;
}

/*
 * Serve connection fd from peer (its groups taken): 0, or -EUSERS (refused
 * for a limit, told so) or another negative errno; fd is the connection's
 * on 0, closed otherwise.
 */
static int conn_new(struct varlink_server *s, int fd, struct varlink_peer peer)
{
	struct peer_account *account;
	size_t limit;
	struct conn *c;
	int r;

	account = account_get(s, peer.uid);
	limit = conn_limit(s, &peer);
	if (account && (s->n_conns >= limit || account->conns >= s->o.max_connections_per_uid)) {
		reject(s, fd, &peer, s->n_conns >= limit ? limit : s->o.max_connections_per_uid);
		account_put(s, account);
		free(peer.groups);
		return -EUSERS;
	}

	c = account ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		if (account)
			account_put(s, account);
		close(fd);
		free(peer.groups);
		return -ENOMEM;
	}
	c->server = s;
	c->account = account;
	c->fd = fd;
	c->peer = peer;
	c->id = ++s->next_id;
	c->events = EPOLLIN;
	varlink_outbuf_init(&c->out, OUTPUT_MAX);
	r = varlink_framer_init(&c->in, conn_message_max(c));
	if (r >= 0)
		r = sd_event_add_io(s->loop, &c->io, fd, c->events, conn_on_io, c);
	if (r >= 0)
		r = sd_event_add_defer(s->loop, &c->kick, conn_on_kick, c);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->kick, SD_EVENT_OFF);
	if (r < 0) {
		log_warning("cannot set up connection: %s", strerror(-r));
		sd_event_source_disable_unref(c->io);
		sd_event_source_disable_unref(c->kick);
		varlink_framer_done(&c->in);
		close(fd);
		free(c->peer.groups);
		free(c);
		account_put(s, account);
		return r;
	}
	account->conns++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	log_debug("connection %u from UID %u PID %d", c->id, (unsigned)peer.uid, (int)peer.pid);
	return 0;
}

/* A connection accepted on a listener: its peer as the kernel knows it. */
static void conn_accepted(struct varlink_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct varlink_peer peer;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		log_warning("cannot get peer credentials: %s", strerror(errno));
		close(fd);
		return;
	}
	peer = (struct varlink_peer){ .uid = cred.uid, .gid = cred.gid, .pid = cred.pid };
	peer_groups(fd, &peer);
	(void)conn_new(s, fd, peer);
}

int varlink_server_add_connection(struct varlink_server *s, int fd,
				  const struct varlink_peer *peer)
{
	struct varlink_peer copy = *peer;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	copy.groups = NULL;
	if (peer->n_groups) {
		copy.groups = malloc(peer->n_groups * sizeof(gid_t));
		if (!copy.groups) {
			close(fd);
			return -ENOMEM;
		}
		memcpy(copy.groups, peer->groups, peer->n_groups * sizeof(gid_t));
	}
	return conn_new(s, fd, copy);
}

static int listener_on_retry(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct listener *l = userdata;

	(void)sd_event_source_set_enabled(l->io, SD_EVENT_ON);
	return 0;
}

/* Out of file descriptors or memory: stop accepting for a moment, not spin. */
static void listener_pause(struct listener *l)
{
	int r = 0;

	if (!l->retry)
		r = sd_event_add_time_relative(l->server->loop, &l->retry, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, 0, listener_on_retry, l);
	else
		r = sd_event_source_set_time_relative(l->retry, ACCEPT_RETRY_USEC);
	if (r >= 0)
		r = sd_event_source_set_enabled(l->retry, SD_EVENT_ONESHOT);
	if (r >= 0)
		(void)sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
}

static int listener_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		int cfd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return 0;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue;
			default:
				/* Out of fds under a flood: say so now and then, not every 100 ms. */
				if (now_usec(CLOCK_MONOTONIC) - l->last_error_log >= REJECT_LOG_INTERVAL) {
					log_warning("cannot accept connections: %s",
						    strerror(errno));
					l->last_error_log = now_usec(CLOCK_MONOTONIC);
				}
				listener_pause(l);
				return 0;
			}
		}
		conn_accepted(l->server, cfd);
	}
	return 0;
}

static void listener_free(struct listener *l)
{
	struct stat st;

	sd_event_source_disable_unref(l->io);
	sd_event_source_disable_unref(l->retry);
	/* Remove the socket file only if it is still the one we made. */
	if (l->path && stat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == l->dev &&
	    st.st_ino == l->ino)
		(void)unlink(l->path);
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
}

static void listeners_free(struct varlink_server *s)
{
	while (s->listeners) {
		struct listener *l = s->listeners;

		s->listeners = l->next;
		listener_free(l);
	}
}

/* Takes fd on success only. A socket file at path is removed on failure. */
static int listener_add(struct varlink_server *s, int fd, const char *path)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct stat st;
	int r = 0;

	if (!l)
		return -ENOMEM;
	l->server = s;
	l->fd = fd;
	if (path) {
		l->path = strdup(path);
		if (!l->path) {
			r = -ENOMEM;
		} else if (stat(path, &st) < 0) {
			r = -errno;
		} else {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
		}
	}
	if (r >= 0)
		r = sd_event_add_io(s->loop, &l->io, fd, EPOLLIN, listener_on_io, l);
	if (r < 0) {
		l->fd = -1;
		listener_free(l);
		return r;
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

int varlink_server_new(struct varlink_server **out, sd_event *loop,
		       const struct varlink_server_options *o)
{
	struct varlink_server *s;

	*out = NULL;
	if (!loop || !o || (o->n_methods && !o->methods))
		return -EINVAL;
	for (size_t i = 0; i < o->n_methods; i++)
		if (!o->methods[i].name || !o->methods[i].fn)
			return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.max_connections)
		s->o.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!s->o.max_connections_per_uid)
		s->o.max_connections_per_uid = DEFAULT_MAX_PER_UID;
	if (s->o.reserved_connections > s->o.max_connections)
		s->o.reserved_connections = s->o.max_connections;
	if (s->o.root_connections > s->o.reserved_connections)
		s->o.root_connections = s->o.reserved_connections;
	if (!s->o.max_output_per_uid)
		s->o.max_output_per_uid = DEFAULT_MAX_OUTPUT_PER_UID;
	if (!s->o.max_message_size || s->o.max_message_size > OUTPUT_MAX)
		s->o.max_message_size = s->o.max_message_size ? OUTPUT_MAX : DEFAULT_MAX_MESSAGE;
	if (s->o.max_root_message_size > OUTPUT_MAX)
		s->o.max_root_message_size = OUTPUT_MAX;
	s->empty = cJSON_CreateObject();
	if (!s->empty) {
		free(s);
		return -ENOMEM;
	}
	s->loop = sd_event_ref(loop);
	*out = s;
	return 0;
}

int varlink_server_listen_fd(struct varlink_server *s, int fd)
{
	int accepting = 0, flags;
	socklen_t len = sizeof(accepting);

	if (fd < 0)
		return -EBADF;
	if (s->shutting_down)
		return -ESHUTDOWN;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0)
		return -errno;
	if (!accepting)
		return -EINVAL;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return listener_add(s, fd, NULL);
}

/* A socket file nobody listens on is stale; anything else is not ours to remove. */
static int remove_stale_socket(const struct sockaddr_un *sa, socklen_t sa_len)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sa_len) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 || r == -EAGAIN)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int varlink_server_listen_path(struct varlink_server *s, const char *path, mode_t mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	socklen_t sa_len;
	mode_t old;
	int fd, r;

	if (s->shutting_down)
		return -ESHUTDOWN;
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);
	sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);

	r = remove_stale_socket(&sa, sa_len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* No window in which the socket has looser permissions than asked. */
	old = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sa, sa_len) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && chmod(path, mode & 07777) < 0)
		r = -errno;
	if (r == 0 && listen(fd, SOMAXCONN) < 0)
		r = -errno;
	if (r == 0)
		r = listener_add(s, fd, path);
	if (r < 0)
		close(fd);
	return r;
}

size_t varlink_server_connection_count(const struct varlink_server *s)
{
	return s->n_conns;
}

bool varlink_call_peer_backlogged(const struct varlink_call *c)
{
	return c->conn->account->backlogged;
}

static int usec_to_ms(uint64_t usec)
{
	uint64_t ms = (usec + 999) / 1000;

	return ms > 60000 ? 60000 : (int)ms;
}

/* Write out what is queued on all connections, for at most timeout_usec. */
static void flush_all(struct varlink_server *s, uint64_t timeout_usec)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	struct pollfd *pfd;
	struct conn **conns;

	pfd = calloc(s->n_conns ? s->n_conns : 1, sizeof(*pfd));
	conns = calloc(s->n_conns ? s->n_conns : 1, sizeof(*conns));
	while (pfd && conns) {
		uint64_t now = now_usec(CLOCK_MONOTONIC);
		size_t n = 0;

		for (struct conn *c = s->conns; c; c = c->next) {
			if (c->dead || varlink_outbuf_pending(&c->out) == 0)
				continue;
			int r = varlink_outbuf_flush(&c->out, c->fd);

			conn_account(c);
			if (r == -EAGAIN) {
				pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLOUT };
				conns[n++] = c;
			} else if (varlink_outbuf_pending(&c->out) > 0) {
				c->dead = true;
			}
		}
		if (n == 0 || now >= deadline)
			break;
		if (poll(pfd, n, usec_to_ms(deadline - now)) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++)
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				conns[i]->dead = true;
	}
	free(pfd);
	free(conns);
}

void varlink_server_shutdown(struct varlink_server *s, uint64_t timeout_usec)
{
	if (!s || s->shutting_down)
		return;
	s->shutting_down = true;
	listeners_free(s);
	for (struct conn *c = s->conns; c; c = c->next) {
		/* Nothing more is read or started; on_close may still reply. */
		(void)sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
		(void)sd_event_source_set_enabled(c->kick, SD_EVENT_OFF);
		c->close_after_flush = true;
		if (c->call)
			call_close(c->call);
	}
	flush_all(s, timeout_usec);
	while (s->conns)
		conn_free(s->conns);
}

void varlink_server_free(struct varlink_server *s)
{
	if (!s)
		return;
	s->shutting_down = true;
	listeners_free(s);
	while (s->conns)
		conn_free(s->conns);
	cJSON_Delete(s->empty);
	sd_event_unref(s->loop);
	free(s);
}
