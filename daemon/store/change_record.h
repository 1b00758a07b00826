/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The change log's records: one line per durable change, appended to
 * <state_dir>/messages.log beside the snapshot (messages.json).
 *
 *   <crc32 of the rest, 8 hex digits> <op>[\t<uid>[\t<text>]]...\n
 *
 *   op "set":     uid/text pairs, each set;
 *   op "remove":  uids, each removed (absent ones are no error);
 *   op "replace": uid/text pairs that become the whole set.
 *
 * uid is decimal or "default". A valid message holds no tab, newline or NUL
 * (validate.h), so the text needs no escaping. Every record is idempotent:
 * replaying records over a snapshot that already holds them changes nothing.
 */
#ifndef GREETER_CHANGE_RECORD_H
#define GREETER_CHANGE_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "entries.h"

enum change_op {
	CHANGE_SET,
	CHANGE_REMOVE,
	CHANGE_REPLACE
};

struct change_record {
	enum change_op op;
	/* CHANGE_REMOVE: the uids (texts empty). Sorted, no duplicates. */
	struct greeter_entries entries;
};

/*
 * Append the record's line (newline included) to *buf (malloc'd, *len
 * bytes used, *cap allocated). Returns 0 or -ENOMEM.
 */
int change_record_append(const struct change_record *rec, char **buf, size_t *len, size_t *cap);

/*
 * Parse one line (without its newline) into out (zero-initialised).
 * Returns 0, or -EBADMSG with why filled (printable), or -ENOMEM.
 */
int change_record_parse(const char *line, size_t len, struct change_record *out, char *why,
			size_t why_size);

/*
 * Apply a record to state, entirely or not at all: -ENOSPC (state left as
 * it was) when a set would take it past GREETER_MAX_MESSAGES.
 */
int change_record_apply(const struct change_record *rec, struct greeter_entries *state);

void change_record_free(struct change_record *rec);

struct change_log_replay {
	size_t applied; /* records applied */
	size_t good_len; /* bytes up to the end of the last good record */
	bool torn; /* the data ended in a record without its newline: dropped */
	bool damaged; /* a record at good_len is bad: it and what follows not applied */
	char why[256]; /* what was wrong with it */
};

/*
 * Replay the records in data[0..len) onto state in order, each entirely or
 * not at all, up to the first damaged record. Returns 0 (see res for a torn
 * tail or a damaged record) or -ENOMEM.
 */
int change_log_replay(const char *data, size_t len, struct greeter_entries *state,
		      struct change_log_replay *res);

#endif
