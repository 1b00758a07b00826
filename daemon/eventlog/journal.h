/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every event as a structured journal entry (greeterd --journal-events), so
 * fleets ship events with the tools they already run.
 */
#ifndef GREETER_JOURNAL_H
#define GREETER_JOURNAL_H

#include <linux/types.h>
#include <stdint.h>

#include "event_record.h"

/* Identifies greeter's exec events in the journal: MESSAGE_ID=... */
#define GREETER_JOURNAL_MESSAGE_ID "5e7a0a9a1d2c4f5b8b1e6c3d2a4f7b90"

/* An events sink (events_sink_fn). */
void journal_event(const struct greeter_event *e, void *userdata);

/* Events not written because the journal was away or full. */
uint64_t journal_dropped(void);

#endif
