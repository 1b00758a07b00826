// SPDX-License-Identifier: LGPL-2.1-or-later
#include "store.h"
#include "change_log.h"
#include "change_record.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "dir_lock.h"
#include "dirs.h"
#include "err_text.h"
#include "log.h"
#include "validate.h"

struct change {
	struct change_record rec;
	long delta; /* messages it adds to what it applies to */
	messages_done_fn done; /* NULL once its caller has gone */
	void *userdata;
	struct change *next;
};

struct change_batch {
	struct change *head, **tail;
	size_t count;
};

struct messages {
	int config_fd; /* -1: no map */
	char state_dir[PATH_MAX];
	int lock_fd; /* the state directory's lock, or -1 */
	struct greeter_entries state; /* durable; what the map holds */
	char refusal[768]; /* non-empty: every change is refused with this */
	struct change_log *log;
	struct change_batch queued, inflight;
	long pending_delta; /* messages the pending changes add (or remove) */
	uint64_t writes, batches; /* changes written, and the writes they took */
	void (*changed)(void *userdata); /* after a batch was applied */
	void *changed_userdata;
};

static void batch_init(struct change_batch *b)
{
	b->head = NULL;
	b->tail = &b->head;
	b->count = 0;
}

static void batch_push(struct change_batch *b, struct change *c)
{
	c->next = NULL;
	*b->tail = c;
	b->tail = &c->next;
	b->count++;
}

int store_load(const char *state_dir, struct greeter_entries *entries, struct store_load *load,
	       int *lock_fd)
{
	int r;

	*lock_fd = -1;
	r = dirs_make(state_dir, 0755);
	if (r < 0) {
		memset(load, 0, sizeof(*load));
		snprintf(load->refusal, sizeof(load->refusal),
			 "the state directory %s cannot be created (%s): greeterd refuses "
			 "changes, which would not survive a reboot; create it (or pass another "
			 "--state-dir) and restart greeterd",
			 state_dir, strerror(-r));
		log_error("%s", load->refusal);
		return 0;
	}
	r = dir_lock(state_dir, "state directory", "--state-dir");
	if (r < 0)
		return r;
	*lock_fd = r;
	change_log_load(state_dir, entries, load);
	if (*load->refusal)
		log_error("%s", load->refusal);
	return 0;
}

int messages_new(struct messages **out, int config_fd, const char *state_dir, int lock_fd)
{
	struct messages *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->config_fd = config_fd;
	m->lock_fd = lock_fd;
	snprintf(m->state_dir, sizeof(m->state_dir), "%s", state_dir);
	batch_init(&m->queued);
	batch_init(&m->inflight);
	*out = m;
	return 0;
}

void messages_on_changed(struct messages *m, void (*fn)(void *userdata), void *userdata)
{
	m->changed = fn;
	m->changed_userdata = userdata;
}

void messages_refuse(struct messages *m, const char *why)
{
	snprintf(m->refusal, sizeof(m->refusal), "%s", why);
}

const char *messages_refusal(const struct messages *m)
{
	return m->refusal;
}

void messages_adopt(struct messages *m, struct greeter_entries *state)
{
	greeter_entries_free(&m->state);
	m->state = *state;
	*state = (struct greeter_entries){ 0 };
}

/* One entry read from the map; values written behind greeterd's back
 * (bpftool) that are not valid messages are left out. */
static int add_from_map(struct greeter_entries *out, uint32_t uid, struct greeter_message *msg)
{
	int err;

	msg->text[sizeof(msg->text) - 1] = '\0';
	err = greeter_entries_add(out, uid, msg->text);
	return err == -EINVAL || err == -E2BIG ? 0 : err;
}

#define MAP_BATCH 4096

static int read_map(struct messages *m, struct greeter_entries *out)
{
	static __u32 keys[MAP_BATCH];
	static struct greeter_message values[MAP_BATCH];
	__u32 key, next, batch = 0;
	void *prev = NULL;
	struct greeter_message msg;
	bool first = true;
	int err;

	/* A few syscalls for the whole map (a warm start with 16,384 messages
	 * would take 32,768 otherwise); one by one where batches are missing. */
	for (;;) {
		__u32 n = MAP_BATCH;

		err = bpf_map_lookup_batch(m->config_fd, first ? NULL : &batch, &batch, keys,
					   values, &n, NULL);
		if (err < 0 && errno != ENOENT) {
			if (first &&
			    (errno == EINVAL || errno == 524 /* ENOTSUPP */ || errno == EOPNOTSUPP))
				break;
			return -errno;
		}
		for (__u32 i = 0; i < n; i++) {
			int r = add_from_map(out, keys[i], &values[i]);

			if (r < 0)
				return r;
		}
		if (err < 0)
			return 0; /* ENOENT: that was the last batch */
		first = false;
	}
	while (bpf_map_get_next_key(m->config_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->config_fd, &key, &msg) < 0)
			continue;
		err = add_from_map(out, key, &msg);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Lookups through the pending changes */

/* rec, applied after *text (uid's message, NULL for none): uid's message. */
static void record_apply_to(const struct change_record *rec, uint32_t uid, const char **text)
{
	const struct greeter_entry *e = greeter_entries_find(&rec->entries, uid);

	if (e || rec->op == CHANGE_REPLACE)
		*text = e && rec->op != CHANGE_REMOVE ? e->text : NULL;
}

/* uid's message once the pending changes before stop (NULL: all) apply, or NULL for none. */
static const char *effective_text(const struct messages *m, uint32_t uid, const struct change *stop)
{
	const struct change_batch *batches[] = { &m->inflight, &m->queued };
	const struct greeter_entry *e = greeter_entries_find(&m->state, uid);
	const char *text = e ? e->text : NULL;

	for (size_t b = 0; b < 2; b++)
		for (const struct change *c = batches[b]->head; c; c = c->next) {
			if (c == stop)
				return text;
			record_apply_to(&c->rec, uid, &text);
		}
	return text;
}

static size_t effective_count(const struct messages *m)
{
	return (size_t)((long)m->state.count + m->pending_delta);
}

/* What c adds to the count, applied after the pending changes before it. */
static long change_delta(const struct messages *m, const struct change *c, size_t count_before)
{
	const struct greeter_entries *e = &c->rec.entries;
	long d = 0;

	switch (c->rec.op) {
	case CHANGE_SET:
		for (size_t i = 0; i < e->count; i++)
			d += !effective_text(m, e->items[i].uid, c);
		return d;
	case CHANGE_REMOVE:
		for (size_t i = 0; i < e->count; i++)
			d -= effective_text(m, e->items[i].uid, c) != NULL;
		return d;
	case CHANGE_REPLACE:
		return (long)e->count - (long)count_before;
	}
	return 0;
}

/* After a failed write, what the queued changes add is counted again. */
static void recount(struct messages *m)
{
	size_t count = m->state.count;

	m->pending_delta = 0;
	for (struct change *c = m->queued.head; c; c = c->next) {
		c->delta = change_delta(m, c, count);
		count = (size_t)((long)count + c->delta);
		m->pending_delta += c->delta;
	}
}

/* Writing and applying */

static void apply_to_map(struct messages *m, const struct change_record *rec)
{
	const struct greeter_entries *e = &rec->entries;

	if (m->config_fd < 0)
		return;
	if (rec->op == CHANGE_REPLACE)
		for (size_t i = 0; i < m->state.count; i++)
			if (!greeter_entries_find(e, m->state.items[i].uid))
				bpf_map_delete_elem(m->config_fd, &m->state.items[i].uid);
	if (rec->op != CHANGE_REMOVE) {
		int r = config_map_write(m->config_fd, e);

		if (r < 0)
			log_error("cannot update the config map: %s; it differs from the stored "
				  "messages until greeterd restarts",
				  strerror(-r));
		return;
	}
	for (size_t i = 0; i < e->count; i++)
		if (bpf_map_delete_elem(m->config_fd, &e->items[i].uid) < 0 && errno != ENOENT)
			log_error("cannot update the config map for UID %u: %s; it differs from "
				  "the stored messages until greeterd restarts",
				  e->items[i].uid, strerror(errno));
}

static void free_change(struct change *c)
{
	change_record_free(&c->rec);
	free(c);
}

/* Send the queued changes to the log, all in one write. */
static void submit(struct messages *m)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!m->log || change_log_busy(m->log) || !m->queued.count)
		return;
	for (struct change *c = m->queued.head; c; c = c->next)
		if (change_record_append(&c->rec, &buf, &len, &cap) < 0) {
			/* Out of memory: they stay queued for the next write. */
			free(buf);
			return;
		}
	/* Refused only once stopped: messages_flush() answers them. */
	if (change_log_write(m->log, buf, len) < 0)
		return;
	m->inflight = m->queued;
	batch_init(&m->queued);
}

static void on_written(void *userdata, int r, const char *err)
{
	struct messages *m = userdata;
	struct change_batch b = m->inflight;

	batch_init(&m->inflight);
	if (r == 0) {
		m->batches++;
		for (struct change *c = b.head; c; c = c->next) {
			int a;

			apply_to_map(m, &c->rec);
			a = change_record_apply(&c->rec, &m->state);
			if (a < 0)
				log_error("BUG: a stored change does not apply: %s", strerror(-a));
			m->pending_delta -= c->delta;
			m->writes++;
		}
	} else {
		for (struct change *c = b.head; c; c = c->next)
			m->pending_delta -= c->delta;
		recount(m);
	}
	for (struct change *c = b.head, *next; c; c = next) {
		next = c->next;
		if (c->done)
			c->done(c->userdata, r, err);
		free_change(c);
	}
	if (r == 0 && m->changed)
		m->changed(m->changed_userdata);
	if (m->log)
		change_log_maybe_compact(m->log, &m->state);
	submit(m);
}

/* Whether two lists (both sorted by UID) hold the same messages. */
static bool same_entries(const struct greeter_entries *a, const struct greeter_entries *b)
{
	bool same = a->count == b->count;

	for (size_t i = 0; same && i < a->count; i++)
		same = a->items[i].uid == b->items[i].uid &&
		       strcmp(a->items[i].text, b->items[i].text) == 0;
	return same;
}

int messages_start(struct messages *m, struct greeter_entries *files,
		   const struct store_load *load, bool map_kept, bool *compact)
{
	struct change_record rec = { .op = CHANGE_REPLACE };
	struct greeter_entries map = { 0 };
	int r;

	*compact = load->compact_needed;
	if (!map_kept || m->config_fd < 0) {
		messages_adopt(m, files);
		return 0;
	}
	r = read_map(m, &map);
	if (r < 0) {
		greeter_entries_free(&map);
		return r;
	}
	if (same_entries(&map, files)) {
		greeter_entries_free(&map);
		messages_adopt(m, files);
		return 0;
	}
	if (!load->found || *load->refusal || load->compact_needed) {
		/* Files that are new, or that lost something: the map holds more. */
		messages_adopt(m, &map);
		*compact = true;
		return 0;
	}
	/*
	 * The files hold every change that was acknowledged (or could have
	 * been), whole: a map that differs was being changed when greeterd
	 * was killed (or by another program). The files win; the map is
	 * brought in line, and a kill meanwhile leaves the same to do again.
	 */
	log_warning("the config map differs from the stored messages (%zu in the map, %zu "
		    "stored): a change was being applied when greeterd stopped, or another "
		    "program changed the map; putting the stored messages back into it",
		    map.count, files->count);
	messages_adopt(m, &map);
	rec.entries = *files;
	apply_to_map(m, &rec);
	messages_adopt(m, files);
	return 0;
}

int messages_open_log(struct messages *m, sd_event *loop, bool compact)
{
	char err[512] = "", why[768];
	int r;

	if (*m->refusal)
		return -EROFS;
	r = change_log_open(&m->log, m->state_dir, m->lock_fd, loop, on_written, m, err,
			    sizeof(err));
	if (r == 0 && compact)
		r = change_log_compact_now(m->log, &m->state, err, sizeof(err));
	if (r == 0) {
		/* What the last run logged goes into the snapshot, off the start's path. */
		if (change_log_size(m->log) > 0)
			change_log_compact_soon(m->log);
		change_log_maybe_compact(m->log, &m->state);
	}
	if (r < 0) {
		set_err(why, sizeof(why),
			"the change log in %s cannot be written (%s): greeterd refuses changes, "
			"which would not survive a reboot; make the directory writable and "
			"restart greeterd",
			m->state_dir, err);
		messages_refuse(m, why);
		log_error("%s", why);
		change_log_close(m->log);
		m->log = NULL;
	}
	return r;
}

static int queue(struct messages *m, struct change *c, char *err, size_t err_size)
{
	size_t before = effective_count(m);

	c->delta = change_delta(m, c, before);
	if (c->delta > 0 && before + (size_t)c->delta > GREETER_MAX_MESSAGES) {
		snprintf(err, err_size, "the config map holds at most %d messages",
			 GREETER_MAX_MESSAGES);
		free_change(c);
		return -ENOSPC;
	}
	m->pending_delta += c->delta;
	batch_push(&m->queued, c);
	submit(m);
	return 0;
}

static struct change *new_change(struct messages *m, enum change_op op, messages_done_fn done,
				 void *userdata, char *err, size_t err_size, int *r)
{
	struct change *c;

	if (*m->refusal || !m->log) {
		snprintf(err, err_size, "%s",
			 *m->refusal ? m->refusal : "the change log is not open");
		*r = -EROFS;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_size, "out of memory");
		*r = -ENOMEM;
		return NULL;
	}
	c->rec.op = op;
	c->done = done;
	c->userdata = userdata;
	return c;
}

int messages_set(struct messages *m, uint32_t uid, const char *text, size_t len,
		 messages_done_fn done, void *userdata, char *err, size_t err_size)
{
	char buf[GREETER_MESSAGE_SIZE] = { 0 };
	struct change *c;
	int r;

	if (len > GREETER_MESSAGE_MAX) {
		snprintf(err, err_size, "longer than %d bytes", GREETER_MESSAGE_MAX);
		return -E2BIG;
	}
	c = new_change(m, CHANGE_SET, done, userdata, err, err_size, &r);
	if (!c)
		return r;
	memcpy(buf, text, len);
	r = greeter_entries_add(&c->rec.entries, uid, buf);
	if (r < 0) {
		snprintf(err, err_size, "%s", strerror(-r));
		free_change(c);
		return r;
	}
	return queue(m, c, err, err_size);
}

int messages_remove(struct messages *m, uint32_t uid, messages_done_fn done, void *userdata,
		    char *err, size_t err_size)
{
	struct change *c;
	int r;

	if (!effective_text(m, uid, NULL)) {
		snprintf(err, err_size, "no message is set");
		return -ENOENT;
	}
	c = new_change(m, CHANGE_REMOVE, done, userdata, err, err_size, &r);
	if (!c)
		return r;
	r = greeter_entries_add(&c->rec.entries, uid, "x");
	if (r < 0) {
		snprintf(err, err_size, "%s", strerror(-r));
		free_change(c);
		return r;
	}
	memset(c->rec.entries.items[0].text, 0, GREETER_MESSAGE_SIZE);
	return queue(m, c, err, err_size);
}

int messages_import(struct messages *m, struct greeter_entries *list, bool replace,
		    struct messages_import_counts *n, messages_done_fn done, void *userdata,
		    char *err, size_t err_size)
{
	struct change *c;
	int r;

	c = new_change(m, replace ? CHANGE_REPLACE : CHANGE_SET, done, userdata, err, err_size, &r);
	if (!c) {
		greeter_entries_free(list);
		return r;
	}
	*n = (struct messages_import_counts){ 0 };
	for (size_t i = 0; i < list->count; i++) {
		const char *now = effective_text(m, list->items[i].uid, NULL);

		if (!now)
			n->added++;
		else if (strcmp(now, list->items[i].text))
			n->updated++;
		else
			n->unchanged++;
	}
	n->removed = replace ? effective_count(m) - n->updated - n->unchanged : 0;
	c->rec.entries = *list;
	*list = (struct greeter_entries){ 0 };
	/* Nothing to change and nothing pending that could fail: nothing to write. */
	if (!n->added && !n->updated && !n->removed && !m->queued.count && !m->inflight.count) {
		free_change(c);
		return 1;
	}
	return queue(m, c, err, err_size);
}

void messages_forget(struct messages *m, void *userdata)
{
	struct change_batch *batches[] = { &m->inflight, &m->queued };

	for (size_t b = 0; b < 2; b++)
		for (struct change *c = batches[b]->head; c; c = c->next)
			if (c->userdata == userdata)
				c->done = NULL;
}

void messages_flush(struct messages *m, uint64_t deadline_usec)
{
	const char *err = "greeterd stopped before the change could be written: it was not stored";

	if (!m->log)
		return;
	change_log_settle(m->log, deadline_usec);
	/* The disk stalled: what is not on disk is not acknowledged. */
	for (struct change *c = m->queued.head, *next; c; c = next) {
		next = c->next;
		if (c->done)
			c->done(c->userdata, -ETIMEDOUT, err);
		free_change(c);
	}
	batch_init(&m->queued);
	m->pending_delta = 0;
}

void messages_free(struct messages *m)
{
	if (!m)
		return;
	if (m->batches)
		log_info("stored %llu change(s) in %llu durable write(s)",
			 (unsigned long long)m->writes, (unsigned long long)m->batches);
	change_log_close(m->log);
	greeter_entries_free(&m->state);
	free(m);
}

/* Reading */

int messages_get(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE],
		 enum greeter_source *source)
{
	const struct greeter_entry *e = NULL;

	if (uid != GREETER_DEFAULT_UID)
		e = greeter_entries_find(&m->state, uid);
	if (e) {
		*source = GREETER_SOURCE_UID;
	} else {
		e = greeter_entries_find(&m->state, GREETER_DEFAULT_UID);
		*source = GREETER_SOURCE_DEFAULT;
	}
	if (e) {
		memcpy(out, e->text, GREETER_MESSAGE_SIZE);
		out[GREETER_MESSAGE_SIZE - 1] = '\0';
		return 0;
	}
	snprintf(out, GREETER_MESSAGE_SIZE, "%s", GREETER_BUILTIN_MESSAGE);
	*source = GREETER_SOURCE_BUILTIN;
	return 0;
}

const struct greeter_entries *messages_all(const struct messages *m)
{
	return &m->state;
}

size_t messages_count(const struct messages *m)
{
	return m->state.count;
}

uint64_t messages_version(const struct messages *m)
{
	return m->batches;
}

void messages_log_stats(const struct messages *m, struct messages_log_stats *out)
{
	*out = (struct messages_log_stats){ .open = m->log != NULL };
	if (m->log) {
		out->size = change_log_size(m->log);
		change_log_counts(m->log, &out->compactions, &out->compactions_failed);
	}
}
