// SPDX-License-Identifier: LGPL-2.1-or-later
/* GetProcessChain: who started a live process, from the kernel's process table. */
#include "api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "exec_id.h"
#include "io.greeter.varlink.h"
#include "utf8.h"

/* One step's strings, made valid UTF-8 for JSON. */
struct step_text {
	char exec_id[EXEC_ID_SIZE];
	char comm[GREETER_UTF8_SANITIZED_SIZE(GREETER_COMM_SIZE)];
	char file[GREETER_UTF8_SANITIZED_SIZE(GREETER_FILENAME_SIZE)];
	char unit[GREETER_UTF8_SANITIZED_SIZE(GREETER_UNIT_SIZE)];
};

void method_get_process_chain(struct varlink_call *c, const cJSON *p, void *userdata)
{
	const struct io_greeter_get_process_chain_params *in = varlink_call_parameters(c);
	const struct varlink_peer *peer = varlink_call_peer(c);
	struct kernel_process chain[KERNEL_CHAIN_MAX];
	struct io_greeter_process steps[KERNEL_CHAIN_MAX];
	struct step_text *text;
	struct api *a = userdata;
	uint64_t now_boot = now_usec(CLOCK_BOOTTIME), now_real = now_usec(CLOCK_REALTIME);
	char why[96];
	int n;

	(void)p;
	if (in->pid <= 0 || in->pid > INT32_MAX) {
		varlink_call_error_invalid_parameter(c, "pid");
		return;
	}
	n = a->o.kernel_process_chain(a->o.kernel_userdata, (__u32)in->pid, chain,
				      KERNEL_CHAIN_MAX);
	if (n < 0) {
		cJSON *e = cJSON_CreateObject();

		if (e)
			cJSON_AddNumberToObject(e, "pid", (double)in->pid);
		varlink_call_error(c, IO_GREETER_ERROR_NO_SUCH_PROCESS, e);
		return;
	}
	/* Others' processes are as private as their events: the chain starts at one's own. */
	if (chain[0].uid != peer->uid && !api_is_admin(a, peer)) {
		snprintf(why, sizeof(why), "process %lld is not UID %u's",
			 (long long)in->pid, (unsigned)peer->uid);
		varlink_call_error(c, IO_GREETER_ERROR_PERMISSION_DENIED, reason(why));
		return;
	}
	text = calloc((size_t)n, sizeof(*text));
	if (!text) {
		reply_built(c, NULL);
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct kernel_process *k = &chain[i];
		uint64_t boot_usec = k->exec_ns / 1000;

		exec_id_format(text[i].exec_id, k->exec_ns, k->pid);
		greeter_utf8_sanitize(text[i].comm, sizeof(text[i].comm), k->comm, sizeof(k->comm));
		greeter_utf8_sanitize(text[i].file, sizeof(text[i].file), k->file, sizeof(k->file));
		greeter_utf8_sanitize(text[i].unit, sizeof(text[i].unit), k->unit, sizeof(k->unit));
		steps[i] = (struct io_greeter_process){
			.pid = k->pid,
			.exec_id = text[i].exec_id,
			.boot_usec = (int64_t)boot_usec,
			.timestamp_usec =
				(int64_t)(now_real - (now_boot > boot_usec ? now_boot - boot_usec : 0)),
			.uid = k->uid,
			.comm = text[i].comm,
			.filename = text[i].file,
			.unit = text[i].unit,
			.seeded = k->seeded,
		};
	}
	reply_built(c, io_greeter_get_process_chain_reply_json(
			       &(struct io_greeter_get_process_chain_reply){ .chain = steps,
									    .n_chain = (size_t)n }));
	free(text);
}
