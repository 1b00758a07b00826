/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The change log's writer: one child process (child.h), started with the log
 * and again only if it dies, that appends each write to messages.log and
 * fsyncs it. Handing a write over costs greeterd no disk and no wait: its
 * bytes go into a memfd the writer shares, and a few bytes on its socket
 * tell it to go. One write at a time. A writer that dies in a write
 * (killed) is followed by another that cuts off what it may have appended
 * and writes it again, once, before the log is touched otherwise.
 */
#ifndef GREETER_LOG_WRITER_H
#define GREETER_LOG_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct log_writer;

/* On the loop, once a write is on disk (r == 0: the log now holds size
 * bytes) or failed (r < 0: err says what; the log was cut back). */
typedef void (*log_writer_done_fn)(void *userdata, int r, const char *err, uint64_t size);

/* The writer of path (in dir), keeping lock_fd (or -1). Returns 0 or a negative errno. */
int log_writer_new(struct log_writer **out, const char *dir, const char *path, int lock_fd,
		   sd_event *loop, log_writer_done_fn done, void *userdata);

/*
 * Append data to path, which holds size bytes now (what the writer cuts it
 * back to if it dies midway). done() follows on the loop, whatever happens.
 * Only when !log_writer_busy().
 */
void log_writer_write(struct log_writer *w, const char *data, size_t len, uint64_t size);

/* Whether a write's done() is still to come. */
bool log_writer_busy(const struct log_writer *w);

/* At shutdown: the descriptor a busy writer reports on (-1: none to wait
 * for), and the report once it is there (done() runs). */
int log_writer_poll_fd(const struct log_writer *w);
void log_writer_dispatch(struct log_writer *w);

/*
 * At shutdown: a write still going is given up, done() gets -ETIMEDOUT. From
 * here on its writer cannot report: if the disk takes the write after all,
 * it cuts it off again (if it outlives greeterd that long). It ends with
 * greeterd.
 */
void log_writer_give_up(struct log_writer *w);

/* Wait for a write in flight (without done()), end the writer. */
void log_writer_free(struct log_writer *w);

#endif
