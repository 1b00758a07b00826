// SPDX-License-Identifier: LGPL-2.1-or-later
#include "messages.h"
#include "state_file.h"
#include "validate.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void messages_init(struct messages *m, int config_fd, const char *state_dir)
{
	m->config_fd = config_fd;
	snprintf(m->state_dir, sizeof(m->state_dir), "%s", state_dir);
}

int messages_lookup(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE])
{
	struct greeter_message msg;

	if (bpf_map_lookup_elem(m->config_fd, &uid, &msg) < 0)
		return -errno;
	memcpy(out, msg.text, GREETER_MESSAGE_SIZE);
	out[GREETER_MESSAGE_SIZE - 1] = '\0';
	return 0;
}

int messages_get(struct messages *m, uint32_t uid, char out[GREETER_MESSAGE_SIZE],
		 enum greeter_source *source)
{
	if (uid != GREETER_DEFAULT_UID && messages_lookup(m, uid, out) == 0) {
		*source = GREETER_SOURCE_UID;
		return 0;
	}
	if (messages_lookup(m, GREETER_DEFAULT_UID, out) == 0) {
		*source = GREETER_SOURCE_DEFAULT;
		return 0;
	}
	snprintf(out, GREETER_MESSAGE_SIZE, "%s", GREETER_BUILTIN_MESSAGE);
	*source = GREETER_SOURCE_BUILTIN;
	return 0;
}

int messages_list(struct messages *m, struct greeter_entries *out)
{
	__u32 key, next;
	void *prev = NULL;
	struct greeter_message msg;
	int err;

	while (bpf_map_get_next_key(m->config_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->config_fd, &key, &msg) < 0)
			continue;
		msg.text[sizeof(msg.text) - 1] = '\0';
		err = greeter_entries_add(out, key, msg.text);
		/* A value written behind greeterd's back (bpftool) may not be valid. */
		if (err == -EINVAL || err == -E2BIG)
			continue;
		if (err < 0)
			return err;
	}
	return 0;
}

size_t messages_count(struct messages *m)
{
	struct greeter_entries all = { 0 };
	size_t n;

	messages_list(m, &all);
	n = all.count;
	greeter_entries_free(&all);
	return n;
}

int messages_save(struct messages *m, char *err, size_t err_size)
{
	struct greeter_entries all = { 0 };
	int r = messages_list(m, &all);

	if (r < 0)
		snprintf(err, err_size, "reading the config map: %s", strerror(-r));
	else
		r = state_file_save(m->state_dir, &all, err, err_size);
	greeter_entries_free(&all);
	return r;
}

/* Put back what was in the map before a change whose durable write failed. */
static void restore(struct messages *m, uint32_t uid, bool had, const struct greeter_message *old)
{
	if (had)
		bpf_map_update_elem(m->config_fd, &uid, old, BPF_ANY);
	else
		bpf_map_delete_elem(m->config_fd, &uid);
}

int messages_set(struct messages *m, uint32_t uid, const char *text, size_t len, char *err,
		 size_t err_size)
{
	struct greeter_message old, msg = { 0 };
	const char *why = NULL;
	bool had;
	int r;

	r = greeter_validate_message(text, len, &why);
	if (r < 0) {
		snprintf(err, err_size, "%s", why);
		return r;
	}
	memcpy(msg.text, text, len);
	had = bpf_map_lookup_elem(m->config_fd, &uid, &old) == 0;
	if (bpf_map_update_elem(m->config_fd, &uid, &msg, BPF_ANY) < 0) {
		r = -errno;
		snprintf(err, err_size, "updating the config map: %s", strerror(-r));
		return r;
	}
	r = messages_save(m, err, err_size);
	if (r < 0)
		restore(m, uid, had, &old);
	return r;
}

int messages_remove(struct messages *m, uint32_t uid, char *err, size_t err_size)
{
	struct greeter_message old;
	int r;

	if (bpf_map_lookup_elem(m->config_fd, &uid, &old) < 0) {
		snprintf(err, err_size, "no message is set");
		return -ENOENT;
	}
	if (bpf_map_delete_elem(m->config_fd, &uid) < 0) {
		r = -errno;
		snprintf(err, err_size, "updating the config map: %s", strerror(-r));
		return r;
	}
	r = messages_save(m, err, err_size);
	if (r < 0)
		restore(m, uid, true, &old);
	return r;
}

int messages_load(struct messages *m, const struct greeter_entries *entries)
{
	for (size_t i = 0; i < entries->count; i++) {
		struct greeter_message msg = { 0 };

		snprintf(msg.text, sizeof(msg.text), "%s", entries->items[i].text);
		if (bpf_map_update_elem(m->config_fd, &entries->items[i].uid, &msg, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}
