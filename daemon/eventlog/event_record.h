/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An event (struct greeter_event, eventlog.h) decoded from a ring record of
 * any layout: the fixed struct greeter_event_v2 of ABI 1 and 2 (records left
 * in an old ring during migration), the variable-length struct
 * greeter_record_v3 of ABI 3, struct greeter_record from ABI 4 (exec ids,
 * exits). A record is hostile input: every length is checked against the
 * record's size.
 */
#ifndef GREETER_EVENT_RECORD_H
#define GREETER_EVENT_RECORD_H

#include <linux/types.h>
#include <stddef.h>

#include "eventlog.h"

/*
 * Decode the record of size bytes at data, written by a BPF program of ABI
 * abi. Returns 0, or -EBADMSG when it is too short, or its lengths run past
 * its end (e is then undefined); -EPROTO for an ABI it does not know.
 */
int event_record_decode(const void *data, size_t size, unsigned abi, struct greeter_event *e);

#endif
