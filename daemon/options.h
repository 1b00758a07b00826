/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * greeterd's command line and environment: what a run is asked to do,
 * with the defaults greeterd(8) documents.
 */
#ifndef GREETER_OPTIONS_H
#define GREETER_OPTIONS_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "greeter.h"

struct daemon_options {
	const char *pin_dir;
	const char *state_dir;
	const char *cache_dir; /* "" for none */
	char state_dir_buf[PATH_MAX]; /* $STATE_DIRECTORY, from the service manager */
	char cache_dir_buf[PATH_MAX];
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

/*
 * Fill o from the defaults, $STATE_DIRECTORY and $CACHE_DIRECTORY, and
 * argv. -1: go on and run; otherwise the exit status (--help, --version,
 * a bad option: said on stderr).
 */
int options_parse(int argc, char **argv, struct daemon_options *o);

#endif
