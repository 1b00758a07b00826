// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Greets every program start.
 *
 * The syscall entry (kprobe or tracepoint flavour) remembers who is calling
 * exec; sched_process_exec, which fires only once an exec has succeeded and
 * sees the filename in kernel memory, emits the event with the message for
 * the caller's UID; the syscall exit counts (and, when asked, reports) the
 * attempts that failed, such as each directory an execvp() PATH walk tries.
 */
/* vmlinux.h of recent kernels has a type named "config": keep the name free. */
#define config config___vmlinux
#include "vmlinux.h"
#undef config
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "greeter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GREETER_MAX_MESSAGES);
	__type(key, __u32);
	__type(value, struct greeter_message);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* set by greeterd before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GREETER_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct greeter_sequence);
} sequence SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct greeter_settings);
} settings SEC(".maps");

/* Written by user space only: which build made the pins (see greeter.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct greeter_meta);
} meta SEC(".maps");

/* An exec in flight, between syscall entry and its outcome. */
struct pending_exec {
	__u32 tid; /* whose entry this is; 0 when free */
	__u32 reserved;
	char comm[GREETER_COMM_SIZE];
	__u64 filename; /* user pointer, read again only if the attempt fails */
};

/*
 * A slot per thread id modulo the size: plain memory writes, no hash or LRU
 * bookkeeping on the exec path (that was half the program's cost). Two
 * threads in flight at once on the same slot are rare; the loser's event is
 * then marked NO_CALLER rather than given the wrong comm.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GREETER_PENDING_MAX);
	__type(key, __u32);
	__type(value, struct pending_exec);
} pending SEC(".maps");

static __always_inline struct pending_exec *pending_slot(__u32 tid)
{
	__u32 idx = tid % GREETER_PENDING_MAX;

	return bpf_map_lookup_elem(&pending, &idx);
}

/* The slot of tid if it holds tid's entry. */
static __always_inline struct pending_exec *pending_get(__u32 tid)
{
	struct pending_exec *p = pending_slot(tid);

	return p && p->tid == tid ? p : NULL;
}

static __always_inline void count(__u32 stat)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &stat);

	if (value)
		*value += 1;
}

static __always_inline void remember_exec(const char *filename)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_exec *p = pending_slot(tid);

	if (!p)
		return;
	p->tid = tid;
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->filename = (__u64)(long)filename;
}

/* The message for uid, with where it came from. Copies into out. */
static __always_inline __u8 lookup_message(__u32 uid, char *out)
{
	__u32 key = uid;
	struct greeter_message *msg = bpf_map_lookup_elem(&config, &key);

	if (msg) {
		bpf_probe_read_kernel_str(out, GREETER_MESSAGE_SIZE, msg->text);
		return GREETER_SOURCE_UID;
	}
	key = GREETER_DEFAULT_UID;
	msg = bpf_map_lookup_elem(&config, &key);
	if (msg) {
		bpf_probe_read_kernel_str(out, GREETER_MESSAGE_SIZE, msg->text);
		return GREETER_SOURCE_DEFAULT;
	}
	__builtin_memcpy(out, GREETER_BUILTIN_MESSAGE, sizeof(GREETER_BUILTIN_MESSAGE));
	return GREETER_SOURCE_BUILTIN;
}

/*
 * Reserve a record and fill what every event has. Returns NULL (and counts
 * the loss) when the ring buffer is full.
 */
static __always_inline struct greeter_event *start_event(void)
{
	__u32 zero = 0;
	struct greeter_sequence *seq;
	struct greeter_event *e;
	struct task_struct *task;
	__u64 uid_gid;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GREETER_STAT_LOST);
		/* Take a sequence number anyway: the gap shows the loss. */
		seq = bpf_map_lookup_elem(&sequence, &zero);
		if (seq)
			__sync_fetch_and_add(&seq->next, 1);
		return NULL;
	}
	seq = bpf_map_lookup_elem(&sequence, &zero);
	/* Numbers start at 1: 0 stands for "before the first event". */
	e->seq = seq ? __sync_fetch_and_add(&seq->next, 1) + 1 : 0;
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	uid_gid = bpf_get_current_uid_gid();
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->error = 0;
	e->flags = 0;
	e->reserved = 0;
	e->source = lookup_message(e->uid, e->message);
	return e;
}

/*
 * Submit without waking the reader unless enough data is pending: a wakeup
 * costs far more than the rest of the work, and greeterd drains on a timer.
 * Pending is what greeterd has not read yet: the events it retains in the
 * ring (behind its read position) wake nobody.
 */
static __always_inline void submit_event(struct greeter_event *e)
{
	__u32 zero = 0;
	struct greeter_settings *s = bpf_map_lookup_elem(&settings, &zero);
	__u64 threshold = s ? s->wakeup_bytes : 0, read = s ? s->read_pos : 0;
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_PROD_POS) - read >= threshold) {
		flags = BPF_RB_FORCE_WAKEUP;
		count(GREETER_STAT_WAKEUPS);
	}
	bpf_ringbuf_submit(e, flags);
	count(GREETER_STAT_EMITTED);
}

static __always_inline int exec_done(long ret)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_exec *p = pending_get(tid);
	struct greeter_settings *s;
	struct greeter_event *e;

	if (!p)
		return 0; /* succeeded (handled by sched_process_exec) or not seen */
	if (ret >= 0) {
		p->tid = 0;
		return 0;
	}
	count(GREETER_STAT_FAILED);
	s = bpf_map_lookup_elem(&settings, &zero);
	if (s && (s->flags & GREETER_SETTING_REPORT_FAILED)) {
		e = start_event();
		if (e) {
			e->error = (__s32)ret;
			e->flags = GREETER_EVENT_FAILED;
			__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
			/* The attempt failed: the old memory is still there. */
			if (bpf_probe_read_user_str(e->filename, sizeof(e->filename),
						    (const char *)(long)p->filename) < 0)
				e->filename[0] = '\0';
			submit_event(e);
		}
	}
	p->tid = 0;
	return 0;
}

SEC("tp/sched/sched_process_exec")
int sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int loc = ctx->__data_loc_filename & 0xFFFF;
	/* The thread that called exec, before de_thread() gave it the leader's id. */
	struct pending_exec *p = pending_get(ctx->old_pid);
	struct greeter_event *e;

	e = start_event();
	if (e) {
		if (p) {
			__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
		} else {
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			e->flags |= GREETER_EVENT_NO_CALLER;
			count(GREETER_STAT_NO_CALLER);
		}
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + loc);
		submit_event(e);
	}
	if (p)
		p->tid = 0;
	return 0;
}

/* Tracepoint flavour. */

SEC("tp/syscalls/sys_enter_execve")
int tp_execve(struct trace_event_raw_sys_enter *ctx)
{
	remember_exec((const char *)ctx->args[0]);
	return 0;
}

SEC("tp/syscalls/sys_enter_execveat")
int tp_execveat(struct trace_event_raw_sys_enter *ctx)
{
	remember_exec((const char *)ctx->args[1]);
	return 0;
}

SEC("tp/syscalls/sys_exit_execve")
int tp_execve_ret(struct trace_event_raw_sys_exit *ctx)
{
	return exec_done(ctx->ret);
}

SEC("tp/syscalls/sys_exit_execveat")
int tp_execveat_ret(struct trace_event_raw_sys_exit *ctx)
{
	return exec_done(ctx->ret);
}

/* Kprobe flavour: the same logic on the syscall functions. */

SEC("ksyscall/execve")
int BPF_KSYSCALL(kp_execve, const char *filename)
{
	remember_exec(filename);
	return 0;
}

SEC("ksyscall/execveat")
int BPF_KSYSCALL(kp_execveat, int dfd, const char *filename)
{
	remember_exec(filename);
	return 0;
}

SEC("kretsyscall/execve")
int BPF_KRETPROBE(kp_execve_ret, long ret)
{
	return exec_done(ret);
}

SEC("kretsyscall/execveat")
int BPF_KRETPROBE(kp_execveat_ret, long ret)
{
	return exec_done(ret);
}
