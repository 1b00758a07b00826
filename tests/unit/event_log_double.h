/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event log (daemon/eventlog/events.h) for tests without a kernel: the
 * same functions over events a test pushes, held in memory. A test links it
 * in place of events.c, so the API and its watchers run unchanged on it.
 */
#ifndef GREETER_EVENT_LOG_DOUBLE_H
#define GREETER_EVENT_LOG_DOUBLE_H

#include <stddef.h>

#include "eventlog.h"

int event_log_double_new(struct events **out);
void event_log_double_free(struct events *ev);

/* e enters the window and goes to every sink, as one batch: as if the ring had it. */
void event_log_double_push(struct events *ev, const struct greeter_event *e);
/* The n oldest events leave the window. */
void event_log_double_forget(struct events *ev, size_t n);

#endif
