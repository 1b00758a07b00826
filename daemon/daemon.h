/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state, shared by its life cycle (main.c) and its API (api.c). */
#ifndef GREETER_DAEMON_H
#define GREETER_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "events.h"
#include "messages.h"
#include "pins.h"

struct daemon_options {
	const char *pin_dir;
	const char *state_dir;
	const char *cache_dir; /* "" for none */
	const char *socket_path;
	const char *admin_group;
	enum greeter_attach_mode attach;
	__u32 ring_size;
	unsigned max_delay_ms;
	unsigned long long wakeup_bytes;
	bool wakeup_bytes_set;
	size_t replay_window;
	bool report_failed;
	bool no_args; /* the kernel reads no arguments */
	bool print_events;
	bool journal_events;
	bool remove_pins;
	bool verbose;
};

struct api;

struct daemon {
	struct daemon_options opt;
	char state_dir_buf[PATH_MAX];
	char cache_dir_buf[PATH_MAX];
	int state_lock_fd; /* holds the lock that keeps a second greeterd out */
	sd_event *loop;
	struct pins pins;
	struct messages messages;
	struct events *events;
	struct api *api;
	uint64_t start_usec; /* CLOCK_MONOTONIC */
	uint64_t attached_usec; /* CLOCK_MONOTONIC */
	uint64_t ready_usec; /* CLOCK_MONOTONIC */
	uint64_t start_realtime_usec;
};

static inline uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Serve the API on the socket (from systemd or created). api.c */
int daemon_api_start(struct daemon *d);
/* Flush what watchers have queued and close the socket. api.c */
void daemon_api_stop(struct daemon *d);

#endif
