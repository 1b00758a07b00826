/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The io.greeter varlink interface (io.greeter.varlink, the one description
 * of it): messages, status and the event stream, served on a Unix socket,
 * with who may do what decided from the caller's credentials.
 *
 * It owns the varlink server, the waiting calls and the watchers; it reads
 * and changes the message store (store.h) and reads the event log
 * (eventlog.h) through their doors, and the kernel side through a copy of
 * its status (struct kernel_status, kernel.h) and the stream's position,
 * both handed to it by callbacks: it reaches into none of them. greeterd's
 * one door to the API.
 * Every per-client resource has a bound (greeterd(8), CLIENTS AND THEIR
 * BOUNDS).
 */
#ifndef GREETER_API_H
#define GREETER_API_H

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "eventlog.h"
#include "kernel.h"
#include "store.h"
#include "varlink_server.h"

struct api_options {
	sd_event *loop;
	/* A listening socket (the service manager's), or -1: socket_path is made. */
	int listen_fd;
	const char *socket_path;
	const char *admin_group; /* its members watch every user's events */
	const char *state_dir; /* shown by GetStatus */
	size_t replay_window; /* shown by GetStatus */
	uint64_t start_usec; /* CLOCK_MONOTONIC: GetStatus' uptime counts from it */
	struct messages *messages;
	struct events *events;
	/* The kernel side now, for GetStatus. */
	void (*kernel_status)(void *userdata, struct kernel_status *out);
	/*
	 * Where the event stream stands, for WatchEvents: the kernel's last
	 * sequence number and the stream id (one map lookup, not the whole status).
	 */
	void (*kernel_stream)(void *userdata, __u64 *last_seq, __u64 *stream_id);
	/* A process's chain from the process table (pins_process_chain()). */
	int (*kernel_process_chain)(void *userdata, __u32 pid, struct kernel_process *out,
				    size_t max);
	void *kernel_userdata;
};

struct api;

/* Serve; o's strings and objects must outlive the API. Fails leaving nothing. */
int api_start(struct api **out, const struct api_options *o);
/*
 * Answer what waits, within API_SHUTDOWN_USEC in all: changes being written
 * (always), waiting lists, the watchers' queued events; then close.
 */
void api_stop(struct api *a);

/* Serve connected socket fd as a client with peer's credentials (tests). */
int api_add_connection(struct api *a, int fd, const struct varlink_peer *peer);

#endif
