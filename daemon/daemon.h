/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* greeterd's life cycle (main.c): its options and what it runs. */
#ifndef GREETER_DAEMON_H
#define GREETER_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "api.h"
#include "clock.h"
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

struct daemon {
	struct daemon_options opt;
	char state_dir_buf[PATH_MAX];
	char cache_dir_buf[PATH_MAX];
	int state_lock_fd; /* holds the lock that keeps a second greeterd out */
	sd_event *loop;
	struct pins *pins;
	struct messages *messages;
	struct events *events;
	struct api *api;
	uint64_t start_usec; /* CLOCK_MONOTONIC */
	uint64_t attached_usec; /* CLOCK_MONOTONIC */
	uint64_t ready_usec; /* CLOCK_MONOTONIC */
	uint64_t start_realtime_usec;
};

#endif
