/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event log, greeterd's one door to it: the pinned ring buffer read in
 * sequence order (a wakeup or, at the latest, a timer drains it), retained
 * as the replay window, and handed to the sinks: the watchers, and the two
 * of its own, --print-events and --journal-events. The ring is the replay
 * window: events read stay in it, indexed, until they fall out of the
 * retention (a number of events, and half the ring), and are released to
 * the kernel only then. Its other headers are its own.
 */
#ifndef GREETER_EVENTLOG_H
#define GREETER_EVENTLOG_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "greeter.h"

/*
 * An event as the sinks see it (an exec, a failed attempt or an exit),
 * decoded from a ring record of any layout.
 */
struct greeter_event {
	__u64 seq; /* 1, 2, ...: grows by one per event, across daemon restarts */
	__u64 boot_ns; /* CLOCK_BOOTTIME of the exec, or of the exit */
	__u64 cgroup_id; /* 0 in records before ABI 3 */
	/* The exec (with pid, its id: exec_id_format()); 0 for a failed attempt. */
	__u64 exec_ns;
	__u64 parent_exec_ns; /* the parent's exec (with parent_pid); 0 when unknown */
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 parent_pid;
	__u32 exit_status; /* an exit: the wait status (WIFEXITED() and the rest apply) */
	__s32 error; /* 0, or -errno of a failed attempt */
	__u8 kind; /* enum greeter_record_kind */
	/*
	 * enum greeter_event_flags: GREETER_EVENT_ARGS when args were read,
	 * GREETER_EVENT_ARGS_TRUNCATED when cut (in the kernel, by bytes, or
	 * here, by count).
	 */
	__u16 flags;
	__u8 source; /* enum greeter_source */
	/* Each NUL-terminated; may hold anything else. */
	char comm[GREETER_COMM_SIZE];
	char filename[GREETER_FILENAME_SIZE];
	char message[GREETER_MESSAGE_SIZE];
	char unit[GREETER_UNIT_SIZE]; /* "" at the root, or in records before ABI 3 */
	/* The parent exec's, "" when unknown (records before ABI 4, exits). */
	char parent_comm[GREETER_COMM_SIZE];
	char parent_file[GREETER_FILENAME_SIZE];
	/* args_count arguments, each NUL-terminated, back to back: args_len bytes. */
	__u16 args_count;
	__u16 args_len;
	char args[GREETER_ARGS_SIZE + 1];
};

/* "uid", "default" or "builtin": where an event's message came from. */
const char *event_source_name(unsigned source);

/* The next argument after arg (NULL: the first), or NULL after the last. */
const char *event_next_arg(const struct greeter_event *e, const char *arg);

/* An exit: how long the process ran since the exec it ends, in microseconds. */
uint64_t event_duration_usec(const struct greeter_event *e);

/* The stream */

struct events;

typedef void (*events_sink_fn)(const struct greeter_event *e, void *userdata);

struct events_options {
	uint64_t max_delay_usec; /* drain at least this often */
	size_t window; /* events retained for replay, at most */
	uint64_t read_pos; /* where the last greeterd stopped handing events on */
	uint64_t handed_until; /* and up to where it may have handed some on */
	/*
	 * Keeps, for the next greeterd and the wakeups, the ring position
	 * events were handed on up to, and up to where they may be (until).
	 */
	void (*store_pos)(uint64_t pos, uint64_t until, void *userdata);
	void *userdata;
};

struct events_counters {
	uint64_t received; /* events read from the ring buffer */
	uint64_t malformed; /* records of the wrong size (never expected) */
	/* Handed on again: a killed greeterd may have handed them on already. */
	uint64_t repeated;
	uint64_t late; /* dropped: their number had been given up on, or came twice */
	uint64_t last_seq; /* highest sequence number seen */
	bool have_seq;
};

int events_start(struct events **out, sd_event *loop, int ring_fd, const struct events_options *o);
void events_free(struct events *ev);

/*
 * Deliver what a replaced ring buffer holds past read_pos, and keep what it
 * retained before for replay; its records are of ABI abi. Closes nothing.
 */
int events_drain_fd(struct events *ev, int ring_fd, uint64_t read_pos, unsigned abi);

/* Read everything pending now (e.g. before shutting down). */
int events_drain(struct events *ev);

/*
 * Called after each batch of events was handed to the sinks, before the ring
 * buffer lets go of them: where queued output is written out.
 */
void events_set_batch_end(struct events *ev, void (*batch_end)(void *userdata), void *userdata);


/* At most 8 sinks; returns a handle >= 0 or -ENOSPC. */
int events_add_sink(struct events *ev, events_sink_fn fn, void *userdata);
void events_remove_sink(struct events *ev, int handle);

const struct events_counters *events_counters(const struct events *ev);

/*
 * The window as a stream: each event retained gets a position, counting up
 * from 0. Readers (watchers) keep a position of their own instead of a copy
 * of the events, so a slow reader costs no memory and holds up nobody; it
 * loses what left the retention by the time it catches up.
 */
uint64_t events_window_start(const struct events *ev); /* oldest position held */
uint64_t events_window_end(const struct events *ev); /* next position to be written */
/*
 * The event at pos, read again from the ring (once for readers asking in
 * turn), or NULL when it has left the window or not yet arrived. Valid
 * until the next call.
 */
const struct greeter_event *events_window_at(struct events *ev, uint64_t pos);
/* The UID of the event at pos, without reading it: false when not in the window. */
bool events_window_uid(const struct events *ev, uint64_t pos, uint32_t *uid);
/* In a sink: the window position of the event being handed on. */
uint64_t events_dispatch_pos(const struct events *ev);
/* The first position whose event has seq > after_seq (window_end if none). */
uint64_t events_window_find_after(const struct events *ev, uint64_t after_seq);

/* Readers of the window */

/*
 * A reader's place in the window: a watcher that is behind, or replaying.
 * It holds a position, not copies of events, so a slow reader costs no
 * memory and holds up nobody. Events of UIDs the reader does not want are
 * passed over without being decoded; those it reads are decoded once for
 * all readers (events_window_at()).
 */
struct events_cursor {
	uint64_t pos; /* the next window position to read */
	/* Events passed whose record could not be read again: lost, not skipped silently. */
	uint64_t unreadable;
};

/* A cursor at the window's end (new events only), or after seq (a resume). */
struct events_cursor events_cursor_at_end(const struct events *ev);
struct events_cursor events_cursor_after_seq(const struct events *ev, uint64_t seq);

/*
 * The events lost to the cursor since it was last asked: those that left
 * the window before it reached them (the cursor moves to the oldest event
 * held), and those it passed whose record could not be read. 0 when none.
 */
uint64_t events_cursor_skip_lost(const struct events *ev, struct events_cursor *cur);

/* Which UIDs' events a reader wants (arg: the reader's). */
typedef bool (*events_uid_filter_fn)(uint32_t uid, const void *arg);

/*
 * The next event from the cursor on whose UID want() takes, looking at
 * positions before limit at most; NULL when there is none before limit (or
 * the window's end). *pos: its position. The event is valid until the next
 * read of the window.
 */
const struct greeter_event *events_cursor_next(struct events *ev, struct events_cursor *cur,
					       uint64_t limit, events_uid_filter_fn want,
					       const void *arg, uint64_t *pos);

/* Whether the cursor has read everything the window holds. */
bool events_cursor_done(const struct events *ev, const struct events_cursor *cur);

/* Sinks of its own */

/*
 * Every event as a structured journal entry (greeterd --journal-events), so
 * fleets ship events with the tools they already run.
 */
/* Identifies greeter's exec events in the journal: MESSAGE_ID=... */
#define GREETER_JOURNAL_MESSAGE_ID "5e7a0a9a1d2c4f5b8b1e6c3d2a4f7b90"
/* And its exit events (GREETER_KIND=exit). */
#define GREETER_JOURNAL_EXIT_MESSAGE_ID "8e92b4000ffd4dd59d7c1a1ef5db4849"
/* GREETER_SCHEMA: the version of greeter-journal-fields(7) entries follow. */
#define GREETER_JOURNAL_SCHEMA 1

/* An events sink (events_sink_fn). */
void journal_event(const struct greeter_event *e, void *userdata);

/* Events not written because the journal was away or full. */
uint64_t journal_dropped(void);

/*
 * greeterd --print-events: every event as a line on standard output. A
 * reader that stalls (a pipe nobody reads, journald under systemd) never
 * holds up the event loop: lines wait in a bounded buffer, written out
 * whole when the output takes them; those that find it full are dropped
 * and counted.
 */
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
