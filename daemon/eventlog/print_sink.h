/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * greeterd --print-events: every event as a line on standard output. A
 * reader that stalls (a pipe nobody reads, journald under systemd) never
 * holds up the event loop: lines wait in a bounded buffer, written out
 * whole when the output takes them; those that find it full are dropped
 * and counted.
 */
#ifndef GREETER_PRINT_SINK_H
#define GREETER_PRINT_SINK_H

#include <stdint.h>
#include <systemd/sd-event.h>

#include "events.h"

/* Print every event of ev on fd, from now on, until print_sink_stop(). */
int print_sink_start(sd_event *loop, struct events *ev, int fd);

/*
 * Write out what is buffered, waiting a second at most for a stalled
 * reader, count the rest as dropped, and let go. Does nothing when not started.
 */
void print_sink_stop(void);

/* Events not written: the output did not take them (or failed). */
uint64_t print_sink_dropped(void);

#endif
