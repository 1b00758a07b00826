// SPDX-License-Identifier: LGPL-2.1-or-later
#include "varlink_client.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "varlink_wire.h"

#define SEND_TIMEOUT_MS 30000

struct varlink_client {
	int fd;
	bool eof;
	struct varlink_framer in;
	struct varlink_outbuf out;
};

int varlink_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_MS / 1000 };
	int fd, r;

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);
	/* Blocking, for connect() only: all I/O of a client passes MSG_DONTWAIT. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* connect() waits this long when the server's backlog is full. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) < 0) {
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	return fd;
}

int varlink_client_new_fd(struct varlink_client **out, int fd)
{
	struct varlink_client *c;
	int r;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	r = varlink_framer_init(&c->in, VARLINK_CLIENT_MAX_REPLY);
	if (r < 0) {
		close(fd);
		free(c);
		return r;
	}
	/* A call is at most one message; the server reads while we wait. */
	varlink_outbuf_init(&c->out, VARLINK_CLIENT_MAX_REPLY);
	*out = c;
	return 0;
}

int varlink_client_connect(struct varlink_client **out, const char *path)
{
	int fd = varlink_unix_connect(path);

	*out = NULL;
	if (fd < 0)
		return fd;
	return varlink_client_new_fd(out, fd);
}

int varlink_client_fd(const struct varlink_client *c)
{
	return c->fd;
}

void varlink_client_free(struct varlink_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	varlink_framer_done(&c->in);
	varlink_outbuf_done(&c->out);
	free(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll() one event with a deadline (< 0: none). Returns 1, 0 on timeout, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int timeout = -1, r;

	if (deadline >= 0) {
		int64_t left = deadline - now_ms();

		timeout = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
	}
	r = poll(&p, 1, timeout);
	if (r < 0)
		return -errno;
	return r > 0;
}

int varlink_client_call(struct varlink_client *c, const char *method, cJSON *parameters,
			unsigned flags)
{
	int64_t deadline = now_ms() + SEND_TIMEOUT_MS;
	cJSON *m = NULL;
	int r;

	if (!method || (flags & ~(VARLINK_CALL_MORE | VARLINK_CALL_ONEWAY)) ||
	    ((flags & VARLINK_CALL_MORE) && (flags & VARLINK_CALL_ONEWAY))) {
		cJSON_Delete(parameters);
		return -EINVAL;
	}
	if (!parameters)
		parameters = cJSON_CreateObject();
	if (parameters)
		m = cJSON_CreateObject();
	if (!m || !cJSON_AddStringToObject(m, "method", method) ||
	    !cJSON_AddItemToObject(m, "parameters", parameters)) {
		cJSON_Delete(parameters);
		cJSON_Delete(m);
		return -ENOMEM;
	}
	if (((flags & VARLINK_CALL_MORE) && !cJSON_AddTrueToObject(m, "more")) ||
	    ((flags & VARLINK_CALL_ONEWAY) && !cJSON_AddTrueToObject(m, "oneway"))) {
		cJSON_Delete(m);
		return -ENOMEM;
	}
	r = varlink_outbuf_append_json(&c->out, m);
	cJSON_Delete(m);
	if (r < 0)
		return r == -ENOBUFS ? -EMSGSIZE : r;
	for (;;) {
		r = varlink_outbuf_flush(&c->out, c->fd);
		if (r != -EAGAIN)
			break;
		r = wait_fd(c->fd, POLLOUT, deadline);
		if (r == 0)
			r = -ETIMEDOUT;
		if (r < 0 && r != -EINTR)
			break;
	}
	if (r < 0)
		/* Half a message on the wire cannot be taken back. */
		varlink_outbuf_consume(&c->out, varlink_outbuf_pending(&c->out));
	/*
	 * A server that refuses the connection (too many) says why, then
	 * closes: the reason is there to read, and is what the caller needs.
	 */
	if ((r == -EPIPE || r == -ECONNRESET) && !(flags & VARLINK_CALL_ONEWAY))
		return 0;
	return r;
}

static int parse_reply(const char *msg, size_t len, cJSON **reply_parameters, char **error_name,
		       bool *continues)
{
	cJSON *root = NULL, *params, *error, *cont;
	char *name = NULL;

	if (varlink_utf8_valid(msg, len))
		root = cJSON_ParseWithLengthOpts(msg, len + 1, NULL, true);

	if (!root)
		return -EBADMSG;
	params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
	error = cJSON_GetObjectItemCaseSensitive(root, "error");
	cont = cJSON_GetObjectItemCaseSensitive(root, "continues");
	if (!cJSON_IsObject(root) || (params && !cJSON_IsObject(params) && !cJSON_IsNull(params)) ||
	    (error && !cJSON_IsString(error)) || (cont && !cJSON_IsBool(cont))) {
		cJSON_Delete(root);
		return -EBADMSG;
	}
	if (error_name && error) {
		name = strdup(error->valuestring);
		if (!name) {
			cJSON_Delete(root);
			return -ENOMEM;
		}
	}
	if (reply_parameters) {
		if (cJSON_IsObject(params))
			params = cJSON_DetachItemViaPointer(root, params);
		else
			params = cJSON_CreateObject();
		if (!params) {
			free(name);
			cJSON_Delete(root);
			return -ENOMEM;
		}
		*reply_parameters = params;
	}
	if (error_name)
		*error_name = name;
	if (continues)
		*continues = cJSON_IsTrue(cont);
	cJSON_Delete(root);
	return 0;
}

int varlink_client_read_reply(struct varlink_client *c, int timeout_ms, cJSON **reply_parameters,
			      char **error_name, bool *continues)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	if (reply_parameters)
		*reply_parameters = NULL;
	if (error_name)
		*error_name = NULL;
	if (continues)
		*continues = false;
	for (;;) {
		const char *msg;
		size_t len;
		char *space;
		ssize_t room, n;
		int r = varlink_framer_next(&c->in, &msg, &len);

		if (r == VARLINK_FRAME_MESSAGE)
			return parse_reply(msg, len, reply_parameters, error_name, continues);
		if (r < 0)
			return r;
		if (c->eof)
			return -ECONNRESET;
		room = varlink_framer_space(&c->in, &space);
		if (room < 0)
			return (int)room;
		if (room == 0)
			return -EMSGSIZE;
		n = recv(c->fd, space, (size_t)room, MSG_DONTWAIT);
		if (n > 0) {
			varlink_framer_commit(&c->in, (size_t)n);
			continue;
		}
		if (n == 0) {
			c->eof = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET) {
			c->eof = true;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		r = wait_fd(c->fd, POLLIN, deadline);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
}
