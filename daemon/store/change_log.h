/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The durable store on disk: the snapshot <state_dir>/messages.json and the
 * change log beside it, <state_dir>/messages.log (records: change_record.h).
 *
 * A durable write appends records to messages.log and fsyncs it (and the
 * directory, when the file is new), in the writer process (log_writer.h):
 * the event loop goes on meanwhile and learns of the result on a socket,
 * and a disk that stalls holds only the writer, never greeterd's exit. When
 * the log has grown past twice the snapshot (at least LOG_COMPACT_MIN
 * bytes), it is compacted by a child forked for it (child.h): renamed to
 * messages.log.<N> (the next write waits for that), a fresh messages.log
 * started, and the snapshot of the state the renamed logs led to written
 * (tmp + fsync + rename + directory fsync), then the renamed logs removed.
 * Both hold the state directory's lock until they end. A restart reads the
 * snapshot, then messages.log.<N> in order, then messages.log; records are
 * idempotent, so a crash anywhere in between loses nothing.
 */
#ifndef GREETER_CHANGE_LOG_H
#define GREETER_CHANGE_LOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "entries.h"
#include "store.h"

#define CHANGE_LOG_NAME "messages.log"

struct change_log;

/* Called on the event loop when a write or a compaction has finished. */
typedef void (*change_log_written_fn)(void *userdata, int r, const char *err);

/*
 * Read the snapshot and the logs into out (empty). Damaged files are moved
 * aside (logged), a torn last record dropped (logged). Never fails: what
 * could not be read is named in res->refusal, and then nothing may write.
 */
void change_log_load(const char *state_dir, struct greeter_entries *out,
		     struct store_load *res);

/*
 * Open messages.log for appending (creating it) and start its writer.
 * lock_fd (or -1) holds the state directory's lock; it is the one
 * descriptor of greeterd's the children keep.
 * Returns 0 or a negative errno (err says what failed).
 */
int change_log_open(struct change_log **out, const char *state_dir, int lock_fd, sd_event *loop,
		    change_log_written_fn written, void *userdata, char *err, size_t err_size);

/* Whether a write is in flight. */
bool change_log_busy(const struct change_log *log);
/* Whether change_log_settle() ran: the log takes no more writes. */
bool change_log_stopped(const struct change_log *log);

/*
 * Append data (whole records) durably; takes data (malloc'd). written()
 * runs on the loop once it is on disk, or failed: then the log is cut back
 * to what it was. Only when !change_log_busy() (-EBUSY) and not stopped
 * (-ESHUTDOWN).
 */
int change_log_write(struct change_log *log, char *data, size_t len);

/*
 * Compact, from state (the durable state now), in the background, if the
 * log is due for it and no compaction runs. Only when !change_log_busy().
 */
void change_log_maybe_compact(struct change_log *log, const struct greeter_entries *state);

/* Make the next change_log_maybe_compact() compact whatever the log holds. */
void change_log_compact_soon(struct change_log *log);

/* Write the snapshot from state now and empty the logs (start-up, tests). */
int change_log_compact_now(struct change_log *log, const struct greeter_entries *state, char *err,
			   size_t err_size);

/*
 * At shutdown: wait for the writes (running written() for each, which may
 * start the next) and the compaction, until deadline_usec (CLOCK_MONOTONIC).
 * Then a write still in flight is given up: written() gets -ETIMEDOUT. Its
 * writer ends with greeterd; whatever of it the disk took by then is a
 * change nobody was told of, as after a kill, and the next start applies it.
 * A compaction goes on alone. The log takes no more writes.
 */
void change_log_settle(struct change_log *log, uint64_t deadline_usec);

/* Wait for what is in flight (without running written()) unless settled, and close. */
void change_log_close(struct change_log *log);

/* Bytes in messages.log. */
uint64_t change_log_size(const struct change_log *log);
/* Compactions of the log into a snapshot since it was opened: done, and failed. */
void change_log_counts(const struct change_log *log, uint64_t *compactions, uint64_t *failed);

#endif
