/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The durable message store, <state_dir>/messages.json. While the host is up
 * the pinned BPF map is the truth; this file brings the messages back after a
 * reboot. Its contents are a messages document (messages_json.h).
 */
#ifndef GREETER_STATE_FILE_H
#define GREETER_STATE_FILE_H

#include <stddef.h>

#include "entries.h"
#include "messages_json.h"

#define STATE_FILE_NAME "messages.json"

/*
 * Load <state_dir>/messages.json into out, which must be empty; on any result
 * but 0 it stays empty. Returns:
 *   0         loaded;
 *   1         no file (or no state_dir): nothing saved yet;
 *   -EBADMSG  the file was corrupt (not JSON, wrong version or types, a bad
 *             UID or message, larger than MESSAGES_JSON_MAX_SIZE): it was renamed
 *             to messages.json.corrupt-<UTC YYYYmmddTHHMMSS>[.N] and err says
 *             what was wrong and where it went;
 *   -EINVAL   messages.json is not a regular file (left alone);
 *   other negative errno: could not read it (err says why), e.g. -EACCES.
 */
int state_file_load(const char *state_dir, struct greeter_entries *out, char *err, size_t err_size);

/*
 * Atomically replace <state_dir>/messages.json with entries: write
 * messages.json.tmp, fsync it, rename it over messages.json, fsync the
 * directory. On failure the tmp file is removed, the old file is left as it
 * was, and a negative errno is returned with err filled. The one exception is
 * a failed fsync of the directory ("syncing directory ..."): the new file is
 * then already in place, but may not survive a crash.
 */
int state_file_save(const char *state_dir, const struct greeter_entries *entries, char *err,
		    size_t err_size);

/*
 * Rename <state_dir>/<name> to <name>.corrupt-<UTC YYYYmmddTHHMMSS>[.N] in
 * the same directory, never over an earlier one; dst gets the new path.
 * Returns 0 or a negative errno.
 */
int state_file_move_aside(const char *state_dir, const char *name, char *dst, size_t dst_size);

#endif /* GREETER_STATE_FILE_H */
