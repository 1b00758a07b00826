/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A process doing the store's work on the disk, reporting on a socket. Not a
 * thread: a thread stuck on a stalled disk keeps the whole process from
 * exiting, a child process only itself. A child keeps no descriptor of
 * greeterd's but its socket and the ones it is given (the state directory's
 * lock above all), and is killed when greeterd ends.
 */
#ifndef GREETER_CHILD_H
#define GREETER_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

struct child {
	pid_t pid; /* 0: none */
	int fd; /* our end of its socket; -1: none */
	sd_event_source *src;
};

#define CHILD_NONE ((struct child){ .fd = -1 })

/* What a child runs, with its end of the socket; it exits when this returns. */
typedef void (*child_body_fn)(int sock, void *arg);

/*
 * Fork a child running body(sock, arg), keeping keep[0..n-1] (-1s are
 * skipped) open. report(userdata) runs on loop when its socket is readable
 * (it spoke, or ended). Returns 0 or a negative errno.
 */
int child_spawn(struct child *c, sd_event *loop, sd_event_io_handler_t report, void *userdata,
		const int *keep, size_t n, child_body_fn body, void *arg);

/* Stop listening to a child; reap it unless it was given up (it ends on its own). */
void child_end(struct child *c, bool reap);

/* Read a report of size bytes; false when the child ended without one. */
bool child_read(const struct child *c, void *rep, size_t size, int flags);

#endif
