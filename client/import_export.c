// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * greeterctl export and import: every message as a messages document
 * (common/messages_json.h), printed for a file or a pipe, and read back in
 * one all-or-nothing ImportMessages call.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "greeterctl.h"
#include "messages_json.h"
#include "validate.h"
#include "io.greeter.varlink.h"

#define ERR_SIZE 256
/* JSON numbers carry integers exactly up to here. */
#define JSON_INT_MAX 9007199254740991.0

/* The file's name for messages: "standard input" for "-", else escaped. */
static void print_file_name(FILE *f, const char *path)
{
	if (!strcmp(path, "-")) {
		fputs("standard input", f);
		return;
	}
	print_escaped(f, path);
}

/*
 * Read all of path ("-": standard input) into *data, at most max bytes.
 * Returns 0, -EFBIG when there is more, or a negative errno.
 */
static int read_bounded(const char *path, size_t max, char **data, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd, r = 0;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : STDIN_FILENO;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t k;

		/* Room for one byte past max: that byte says the file is too large. */
		if (n == cap) {
			size_t want = cap ? cap * 2 : 64 * 1024;
			char *p;

			if (want > max + 1)
				want = max + 1;
			if (want == cap) {
				r = -EFBIG;
				break;
			}
			p = realloc(buf, want);
			if (!p) {
				r = -ENOMEM;
				break;
			}
			buf = p;
			cap = want;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (r == 0 && n > max)
		r = -EFBIG;
	if (r < 0) {
		free(buf);
		return r;
	}
	*data = buf;
	*len = n;
	return 0;
}

/* export */

/*
 * ListMessages' reply as entries, checked as a file's would be: greeterd is
 * trusted for the shape of its reply, not for what a message holds.
 * Unsorted: messages_json_format() sorts (and finds duplicates) in
 * O(n log n). Returns 0, or -EBADMSG / -ENOMEM with err set.
 */
static int entries_from_reply(const cJSON *reply, struct greeter_entries *out, char *err,
			      size_t err_size)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(reply, "messages"), *m;
	size_t n = 0;

	if (!cJSON_IsArray(list)) {
		snprintf(err, err_size, "the reply has no list of messages");
		return -EBADMSG;
	}
	cJSON_ArrayForEach (m, list)
		n++;
	if (n > GREETER_MAX_MESSAGES) {
		snprintf(err, err_size, "more than %d messages", GREETER_MAX_MESSAGES);
		return -EBADMSG;
	}
	out->items = calloc(n ? n : 1, sizeof(*out->items));
	if (!out->items) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	out->capacity = n;
	cJSON_ArrayForEach (m, list) {
		const cJSON *uid = cJSON_GetObjectItemCaseSensitive(m, "uid");
		const char *text =
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "message"));
		struct greeter_entry *e = &out->items[out->count];
		const char *why;
		uint64_t v = GREETER_DEFAULT_UID;

		if (uid && !cJSON_IsNull(uid) && !json_uint(uid, 4294967294.0, &v)) {
			snprintf(err, err_size, "message %zu has an invalid uid", out->count);
			return -EBADMSG;
		}
		if (!text) {
			snprintf(err, err_size, "message %zu has no text", out->count);
			return -EBADMSG;
		}
		/* The escapes a document may not hold raw never reach stdout. */
		if (greeter_validate_message(text, strlen(text), &why) < 0) {
			if (v == GREETER_DEFAULT_UID)
				snprintf(err, err_size, "the default message: %s", why);
			else
				snprintf(err, err_size, "the message of UID %" PRIu64 ": %s", v,
					 why);
			return -EBADMSG;
		}
		e->uid = (uint32_t)v;
		memset(e->text, 0, sizeof(e->text));
		memcpy(e->text, text, strlen(text));
		out->count++;
	}
	return 0;
}

int cmd_export(const struct ctl_options *o, char **args)
{
	struct greeter_entries entries = { 0 };
	const char *what = "cannot export the messages";
	char err[ERR_SIZE];
	char *doc = NULL;
	size_t len;
	cJSON *reply;
	int r;

	(void)args;
	r = ctl_call(o, what, IO_GREETER_LIST_MESSAGES, cJSON_CreateObject(), &reply);
	if (r)
		return r;
	r = entries_from_reply(reply, &entries, err, sizeof(err));
	if (r == 0)
		r = messages_json_format(&entries, &doc, &len, err, sizeof(err));
	if (r == -ENOMEM) {
		r = out_of_memory();
	} else if (r < 0) {
		/* err names UIDs and reasons, never the hostile text itself. */
		fprintf(stderr, "greeterctl: %s: greeterd sent an invalid list: %s\n", what, err);
		r = EXIT_DAEMON;
	} else {
		/* Nothing on stdout unless the whole document is there. */
		fwrite(doc, 1, len, stdout);
		r = EXIT_OK;
	}
	free(doc);
	greeter_entries_free(&entries);
	cJSON_Delete(reply);
	return r;
}

/* import */

static void entry_key(const struct greeter_entry *e, char *buf, size_t size)
{
	if (e->uid == GREETER_DEFAULT_UID)
		snprintf(buf, size, "default");
	else
		snprintf(buf, size, "%" PRIu32, e->uid);
}

/* ImportMessages' parameters: the entries in their (sorted) order. */
static cJSON *import_params(const struct greeter_entries *entries, bool replace)
{
	cJSON *p = cJSON_CreateObject(), *list;

	list = p ? cJSON_AddArrayToObject(p, "messages") : NULL;
	if (!list)
		goto fail;
	for (size_t i = 0; i < entries->count; i++) {
		const struct greeter_entry *e = &entries->items[i];
		cJSON *m = cJSON_CreateObject();

		if (!m)
			goto fail;
		if (!cJSON_AddItemToArray(list, m)) {
			cJSON_Delete(m);
			goto fail;
		}
		if (e->uid != GREETER_DEFAULT_UID && !cJSON_AddNumberToObject(m, "uid", e->uid))
			goto fail;
		if (!cJSON_AddStringToObject(m, "message", e->text))
			goto fail;
	}
	if (replace && !cJSON_AddTrueToObject(p, "replace"))
		goto fail;
	return p;
fail:
	cJSON_Delete(p);
	return NULL;
}

/* An error reply to ImportMessages, in words. Returns the exit status. */
static int import_error(const char *path, const struct greeter_entries *entries, const char *error,
			const cJSON *params)
{
	uint64_t index;

	if (!strcmp(error, IO_GREETER_ERROR_INVALID_IMPORT) && entries->count > 0 &&
	    json_uint(cJSON_GetObjectItemCaseSensitive(params, "index"),
		      (double)(entries->count - 1), &index)) {
		char key[16];

		/* The index is into what we sent, which is the file's entries in order. */
		entry_key(&entries->items[index], key, sizeof(key));
		fputs("greeterctl: cannot import ", stderr);
		print_file_name(stderr, path);
		fprintf(stderr, ": greeterd refused \"%s\": ", key);
		print_escaped(stderr, json_str(params, "reason"));
		fputs("; nothing was changed\n", stderr);
		return EXIT_BAD_FILE;
	}
	if (!strcmp(error, IO_GREETER_ERROR_PERMISSION_DENIED)) {
		const char *why = json_str(params, "reason");

		/* greeterd decides who may; without its reason, say what the rule is. */
		fputs("greeterctl: cannot import ", stderr);
		print_file_name(stderr, path);
		fputs(": io.greeter.PermissionDenied: ", stderr);
		print_escaped(stderr, *why ? why : "only root may import messages");
		fputc('\n', stderr);
		return EXIT_DAEMON;
	}
	print_daemon_error("cannot import the messages", error, params);
	return EXIT_DAEMON;
}

/* Read and check the whole file before anything reaches greeterd. */
static int load_document(const char *path, struct greeter_entries *entries)
{
	char err[ERR_SIZE];
	char *data = NULL;
	size_t len = 0;
	int r;

	r = read_bounded(path, MESSAGES_JSON_MAX_SIZE, &data, &len);
	if (r == -ENOMEM)
		return out_of_memory();
	if (r < 0) {
		fputs("greeterctl: cannot read ", stderr);
		print_file_name(stderr, path);
		if (r == -EFBIG)
			fprintf(stderr, ": larger than %u bytes", MESSAGES_JSON_MAX_SIZE);
		else
			fprintf(stderr, ": %s", strerror(-r));
		fputs("; nothing was changed\n", stderr);
		return EXIT_BAD_FILE;
	}
	r = messages_json_parse(data, len, entries, err, sizeof(err));
	free(data);
	if (r == -ENOMEM)
		return out_of_memory();
	if (r < 0) {
		/* err quotes keys escaped: it is safe to print. */
		fputs("greeterctl: ", stderr);
		print_file_name(stderr, path);
		fprintf(stderr, " is not a valid messages document: %s; nothing was changed\n",
			err);
		return EXIT_BAD_FILE;
	}
	return 0;
}

/* ImportMessages' reply; greeterds before added, updated and unchanged sent set and removed. */
struct import_counts {
	uint64_t set, removed, added, updated, unchanged;
	bool known, detailed;
	bool changed; /* the messages changed, or (unknown) may have */
};

static bool count_of(const cJSON *reply, const char *name, uint64_t *v)
{
	return json_uint(cJSON_GetObjectItemCaseSensitive(reply, name), JSON_INT_MAX, v);
}

static struct import_counts import_counts(const cJSON *reply)
{
	struct import_counts n = { 0 };

	n.known = count_of(reply, "set", &n.set) && count_of(reply, "removed", &n.removed);
	n.detailed = n.known && count_of(reply, "added", &n.added) &&
		     count_of(reply, "updated", &n.updated) &&
		     count_of(reply, "unchanged", &n.unchanged);
	n.changed = n.detailed ? n.added || n.updated || n.removed : !n.known || n.set || n.removed;
	return n;
}

/* --json: the reply, after "changed" (for configuration management's changed_when). */
static int print_import_json(const cJSON *reply, const struct import_counts *n)
{
	cJSON *out = cJSON_CreateObject(), *item;
	int r;

	if (!out || !cJSON_AddBoolToObject(out, "changed", n->changed)) {
		cJSON_Delete(out);
		return out_of_memory();
	}
	cJSON_ArrayForEach (item, reply) {
		cJSON *copy = cJSON_Duplicate(item, true);

		if (!copy || !cJSON_AddItemToObject(out, item->string, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(out);
			return out_of_memory();
		}
	}
	r = print_json(out);
	cJSON_Delete(out);
	return r;
}

static void print_import_text(const char *path, const struct import_counts *n)
{
	if (!n->known) {
		printf("imported (greeterd did not say how many were set and removed)\n");
	} else if (!n->detailed) {
		printf("set %" PRIu64 ", removed %" PRIu64 "\n", n->set, n->removed);
	} else if (n->changed) {
		printf("added %" PRIu64 ", updated %" PRIu64 ", removed %" PRIu64
		       ", unchanged %" PRIu64 "\n",
		       n->added, n->updated, n->removed, n->unchanged);
	} else {
		printf("unchanged: %" PRIu64 " message%s already as in ", n->unchanged,
		       n->unchanged == 1 ? "" : "s");
		print_file_name(stdout, path);
		putchar('\n');
	}
}

int cmd_import(const struct ctl_options *o, char **args)
{
	struct greeter_entries entries = { 0 };
	const char *path = args[0];
	struct import_counts n;
	cJSON *params, *reply = NULL;
	char *error = NULL;
	int r;

	r = load_document(path, &entries);
	if (r)
		goto out;
	params = import_params(&entries, o->replace);
	if (!params) {
		r = out_of_memory();
		goto out;
	}
	r = ctl_call_raw(o, "cannot import the messages", IO_GREETER_IMPORT_MESSAGES, params,
			 &reply, &error);
	if (r)
		goto out;
	if (error) {
		r = import_error(path, &entries, error, reply);
		goto out;
	}
	/* Changed or not, success is status 0: scripts read "changed". */
	n = import_counts(reply);
	if (o->json) {
		r = print_import_json(reply, &n);
		goto out;
	}
	print_import_text(path, &n);
	r = EXIT_OK;
out:
	free(error);
	cJSON_Delete(reply);
	greeter_entries_free(&entries);
	return r;
}
