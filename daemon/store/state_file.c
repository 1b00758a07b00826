// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "file_read.h"
#include "file_replace.h"
#include "err_text.h"
#include "messages_json.h"
#include "state_file.h"
#include "validate.h"

/* Names tried for a corrupt file: messages.json.corrupt-<stamp>[.N]. */
#define ASIDE_TRIES 100

static int join(char *buf, size_t size, const char *dir, const char *name, char *err,
		size_t err_size)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		return set_errno(err, err_size, ENAMETOOLONG, "%s/%s", dir, name);
	return 0;
}

int state_file_move_aside(const char *state_dir, const char *name, char *dst, size_t dst_size)
{
	char path[PATH_MAX];
	char stamp[32] = "unknown";
	time_t now = time(NULL);
	struct tm tm;
	int i, n;

	n = snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	for (i = 0; i < ASIDE_TRIES; i++) {
		struct stat st;

		if (i == 0)
			n = snprintf(dst, dst_size, "%s/%s.corrupt-%s", state_dir, name, stamp);
		else
			n = snprintf(dst, dst_size, "%s/%s.corrupt-%s.%d", state_dir, name, stamp,
				     i);
		if (n < 0 || (size_t)n >= dst_size)
			return -ENAMETOOLONG;
		if (renameat2(AT_FDCWD, path, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			goto done;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* No RENAME_NOREPLACE on this file system: check, then rename. */
		if (lstat(dst, &st) == 0)
			continue;
		if (rename(path, dst) == 0)
			goto done;
		return -errno;
	}
	return -EEXIST;
done:
	/* Best effort: the rename is what matters, not its durability. */
	file_sync_dir(state_dir);
	return 0;
}

int state_file_load(const char *state_dir, struct greeter_entries *out, char *err, size_t err_size)
{
	char path[PATH_MAX], aside[PATH_MAX], why[512] = "";
	char *buf = NULL;
	size_t len = 0;
	int r, m;

	if (!state_dir || !*state_dir || !out || out->count > 0) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	r = join(path, sizeof(path), state_dir, STATE_FILE_NAME, err, err_size);
	if (r < 0)
		return r;

	r = file_read_all(path, MESSAGES_JSON_MAX_SIZE, &buf, &len, err, err_size);
	if (r == 1)
		return 1;
	if (r == -EFBIG) {
		r = bad(why, sizeof(why), "larger than %u bytes", MESSAGES_JSON_MAX_SIZE);
	} else if (r < 0) {
		return r;
	} else {
		r = messages_json_parse(buf, len, out, why, sizeof(why));
	}

	if (r == -EBADMSG) {
		m = state_file_move_aside(state_dir, STATE_FILE_NAME, aside, sizeof(aside));
		if (m == 0)
			set_err(err, err_size, "%s: %s; moved it to %s", path, why, aside);
		else
			set_errno(err, err_size, -m, "%s: %s; could not move it aside", path, why);
	} else if (r < 0) {
		set_err(err, err_size, "%s: %s", path, why);
	}
	free(buf);
	return r;
}

int state_file_save(const char *state_dir, const struct greeter_entries *entries, char *err,
		    size_t err_size)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if (!state_dir || !*state_dir) {
		set_err(err, err_size, "invalid arguments");
		return -EINVAL;
	}
	r = messages_json_format(entries, &data, &len, err, err_size);
	if (r < 0)
		return r;
	r = file_replace(state_dir, STATE_FILE_NAME, data, len, true, err, err_size);
	free(data);
	return r;
}
