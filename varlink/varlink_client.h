/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small blocking varlink client over a Unix stream socket. */
#ifndef GREETER_VARLINK_CLIENT_H
#define GREETER_VARLINK_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#define VARLINK_CALL_MORE (1u << 0)
#define VARLINK_CALL_ONEWAY (1u << 1)

/* Largest reply accepted, NUL not counted. */
#define VARLINK_CLIENT_MAX_REPLY (16u << 20)

struct varlink_client;

/*
 * Connect to the socket at path. Returns 0, or -ENOENT (no socket file) /
 * -ECONNREFUSED (nobody listening) when the server is not running, -EACCES,
 * -ENAMETOOLONG, -ENOMEM...
 */
int varlink_client_connect(struct varlink_client **out, const char *path);

/* The connected socket alone (close-on-exec, blocking): the descriptor, or -errno as above. */
int varlink_unix_connect(const char *path);

/*
 * A client on fd, a connected stream socket (a socketpair's end, say), which
 * it takes: closed on failure too. Returns 0 or -ENOMEM.
 */
int varlink_client_new_fd(struct varlink_client **out, int fd);

/*
 * Send a call. parameters is taken (NULL means {}). flags: VARLINK_CALL_MORE
 * or VARLINK_CALL_ONEWAY, not both. Returns 0, -EINVAL, -ETIMEDOUT (the
 * server took nothing for 30 s), -ENOMEM. A connection the server closed
 * returns 0 all the same (-ECONNRESET/-EPIPE for a oneway call): its
 * refusal, if it sent one, or -ECONNRESET is what the next
 * varlink_client_read_reply() returns.
 */
int varlink_client_call(struct varlink_client *c, const char *method, cJSON *parameters,
			unsigned flags);

/*
 * Wait up to timeout_ms (negative: forever, 0: only what is already there)
 * for the next reply. On success *reply_parameters is an object (never NULL;
 * free it with cJSON_Delete()), *error_name the error (free() it) or NULL,
 * *continues whether more replies follow; any of them may be NULL if unwanted.
 * Returns 0, -ETIMEDOUT, -ECONNRESET (the server closed the connection),
 * -EBADMSG (not a varlink reply), -EMSGSIZE (over VARLINK_CLIENT_MAX_REPLY),
 * -EINTR (a signal arrived), -ENOMEM.
 */
int varlink_client_read_reply(struct varlink_client *c, int timeout_ms, cJSON **reply_parameters,
			      char **error_name, bool *continues);

/*
 * For poll(): readable means a reply may be ready. Replies may already be
 * buffered, so call varlink_client_read_reply(c, 0, ...) until it returns
 * -ETIMEDOUT before waiting on the descriptor.
 */
int varlink_client_fd(const struct varlink_client *c);

void varlink_client_free(struct varlink_client *c);

#endif
