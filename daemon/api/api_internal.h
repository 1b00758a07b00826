/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the API's files share; others use api.h. api.c: the life cycle,
 * who may do what, GetStatus and WatchEvents; message_methods.c: the
 * messages' methods, the changes waiting for the disk and the large lists
 * waiting for their turn; process_methods.c: GetProcessChain.
 */
#ifndef GREETER_API_INTERNAL_H
#define GREETER_API_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "api.h"
#include "varlink_server.h"

struct api {
	struct api_options o;
	struct varlink_server *server;
	struct watchers *watchers;
	/* ListMessages' reply as JSON, for the messages as of list_version. */
	char *list_text;
	uint64_t list_version;
	/* Large ListMessages calls waiting for their turn, oldest first. */
	struct list_wait *list_head, **list_tail;
	sd_event_source *list_source;
	sd_event_source *list_timer;
	sd_event_source *heap_trim; /* gives freed heap back to the kernel */
	/* The admin group's GID, looked up at admin_gid_usec (0: never). */
	gid_t admin_gid;
	bool admin_gid_found;
	uint64_t admin_gid_usec;
};

/* A uid parameter (or fallback when absent) checked: false, and an error sent, if bad. */
bool get_uid(struct varlink_call *c, bool has_uid, int64_t value, uint32_t fallback,
	     uint32_t *out);
/* An error's parameters: its reason in words. */
cJSON *reason(const char *text);
/* A reply the IDL's builder made; none: it ran out of memory. */
void reply_built(struct varlink_call *c, cJSON *r);
/* Root and the admin group's members: they see every user's events and processes. */
bool api_is_admin(struct api *a, const struct varlink_peer *peer);
/* Root edits any message; others only their own UID's, never the default. */
bool may_edit(struct varlink_call *c, uint32_t uid);

/* The messages' methods (message_methods.c), named as the IDL's table wants them. */
void method_set_message(struct varlink_call *c, const cJSON *p, void *userdata);
void method_remove_message(struct varlink_call *c, const cJSON *p, void *userdata);
void method_get_message(struct varlink_call *c, const cJSON *p, void *userdata);
void method_list_messages(struct varlink_call *c, const cJSON *p, void *userdata);
void method_import_messages(struct varlink_call *c, const cJSON *p, void *userdata);
void method_get_process_chain(struct varlink_call *c, const cJSON *p, void *userdata);

/* Large lists wait for their turn: the sources that give it (api_start). */
int lists_start(struct api *a);
/* At shutdown: the waiting lists answered until deadline (CLOCK_MONOTONIC). */
void lists_answer(struct api *a, uint64_t deadline);
void lists_free(struct api *a);

#endif
