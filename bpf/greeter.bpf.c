// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Greets every program start.
 *
 * The syscall entry (kprobe or tracepoint flavour) remembers who is calling
 * exec; sched_process_exec, which fires only once an exec has succeeded and
 * sees the filename in kernel memory, emits the event with the message for
 * the caller's UID; the syscall exit counts (and, when asked, reports) the
 * attempts that failed, such as each directory an execvp() PATH walk tries.
 *
 * Each exec also goes into the process table (pid -> its exec, and the exec
 * its parent was running), and sched_process_exit takes it out again when
 * the process's last thread exits, reporting the exit: who started a
 * program, and how it ended, from the same ring and sequence.
 *
 * Records are as long as their strings: built in a per-CPU scratch, then
 * copied into a ring record of the smallest size class that holds them (a
 * reservation needs a constant size). The sequence number is taken once the
 * record is reserved, as user space's reordering expects (reorder.h).
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

#ifdef GREETER_BUILD_VARIANT
/* A second build of the same source (tests/integration/variant/): what an upgrade replaces. */
const volatile __u32 greeter_build_variant = GREETER_BUILD_VARIANT;
#endif

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

/* Shared by every build from this one on: an exec is reported once (greeter.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct greeter_reported);
} reported SEC(".maps");

/*
 * Live processes whose exec was seen (greeter.h, struct greeter_process).
 * Shared by every build: the exit program that takes a process out is the
 * one that reports its exit, whichever build's it is.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GREETER_PROCESS_MAX);
	__type(key, __u32);
	__type(value, struct greeter_process);
} processes SEC(".maps");

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

static __always_inline bool setting(__u32 flag)
{
	__u32 zero = 0;
	struct greeter_settings *s = bpf_map_lookup_elem(&settings, &zero);

	return s && (s->flags & flag);
}

static __always_inline void remember_exec(const char *filename)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_exec *p = pending_slot(tid);

	if (!p || setting(GREETER_SETTING_STANDBY))
		return;
	p->tid = tid;
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	p->filename = (__u64)(long)filename;
}

/*
 * A record being built: the header, then its strings (greeter.h). The
 * arguments go at an offset masked to below 1024, so there is room for them
 * past any such offset (the strings before take 668 bytes at most).
 */
#define ARGS_OFFSET_MAX 1024
struct record_buf {
	struct greeter_record r;
	char data[ARGS_OFFSET_MAX + GREETER_ARGS_SIZE];
	struct greeter_process proc; /* a process table entry being built */
	/*
	 * The unit last read on this CPU, by the id of its cgroup: execs
	 * come in runs from the same cgroup, and a cgroup v2 is never
	 * renamed, nor its id given to another while the system runs.
	 */
	__u64 unit_cgroup_id;
	__u32 unit_len;
	char unit[GREETER_UNIT_SIZE];
};
_Static_assert(ARGS_OFFSET_MAX >= 2 * (GREETER_COMM_SIZE + GREETER_FILENAME_SIZE) +
			       GREETER_MESSAGE_SIZE + GREETER_UNIT_SIZE,
	       "the strings before the arguments fit below ARGS_OFFSET_MAX");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record_buf);
} scratch SEC(".maps");

/* Length of a string read by a *_str helper (n counts the NUL), masked for the verifier. */
#define STR_LEN(n, mask) ((__u32)((n) > 0 ? (n)-1 : 0) & (mask))

/*
 * The message for uid into out (GREETER_MESSAGE_SIZE bytes of room), with
 * where it came from; returns its length.
 */
static __always_inline __u32 lookup_message(__u32 uid, char *out, __u8 *source)
{
	__u32 key = uid;
	struct greeter_message *msg = bpf_map_lookup_elem(&config, &key);
	long n;

	if (msg) {
		*source = GREETER_SOURCE_UID;
	} else {
		key = GREETER_DEFAULT_UID;
		msg = bpf_map_lookup_elem(&config, &key);
		*source = GREETER_SOURCE_DEFAULT;
	}
	if (msg) {
		n = bpf_probe_read_kernel_str(out, GREETER_MESSAGE_SIZE, msg->text);
		return STR_LEN(n, GREETER_MESSAGE_SIZE - 1);
	}
	*source = GREETER_SOURCE_BUILTIN;
	__builtin_memcpy(out, GREETER_BUILTIN_MESSAGE, sizeof(GREETER_BUILTIN_MESSAGE));
	return sizeof(GREETER_BUILTIN_MESSAGE) - 1;
}

/*
 * Fill the header and the first strings of a record: comm (from comm, a
 * kernel copy), message, unit. Returns the scratch, or NULL. *off is where
 * the next string goes.
 */
static __always_inline struct record_buf *start_record(const char *comm, __u32 *off)
{
	__u32 zero = 0, len, pos;
	struct record_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	struct task_struct *task;
	struct kernfs_node *kn;
	const char *unit;
	__u64 uid_gid;
	long n;

	if (!b)
		return NULL;
	b->r.seq = 0;
	b->r.boot_ns = bpf_ktime_get_boot_ns();
	b->r.cgroup_id = bpf_get_current_cgroup_id();
	b->r.pid = bpf_get_current_pid_tgid() >> 32;
	task = (struct task_struct *)bpf_get_current_task();
	b->r.ppid = BPF_CORE_READ(task, real_parent, tgid);
	uid_gid = bpf_get_current_uid_gid();
	b->r.uid = (__u32)uid_gid;
	b->r.gid = uid_gid >> 32;
	b->r.error = 0;
	b->r.flags = 0;
	b->r.kind = GREETER_KIND_EXEC;
	b->r.reserved = 0;
	b->r.exec_ns = 0;
	b->r.parent_exec_ns = 0;
	b->r.parent_pid = 0;
	b->r.exit_status = 0;
	b->r.filename_len = 0;
	b->r.parent_comm_len = 0;
	b->r.parent_file_len = 0;
	b->r.args_len = 0;

	n = bpf_probe_read_kernel_str(b->data, GREETER_COMM_SIZE, comm);
	len = STR_LEN(n, GREETER_COMM_SIZE - 1);
	b->r.comm_len = len;
	pos = len;

	len = lookup_message(b->r.uid, b->data + pos, &b->r.source);
	len &= GREETER_MESSAGE_SIZE - 1;
	b->r.message_len = len;
	pos += len;

	/*
	 * The leaf of the cgroup v2 path: the unit or scope on systemd hosts;
	 * "" at the root. Read again only when the cgroup is not the one this
	 * CPU read last; its id and name then come from the same kernfs node,
	 * so that a move to another cgroup meanwhile cannot pair them wrong.
	 */
	if (b->unit_cgroup_id != b->r.cgroup_id) {
		kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
		unit = kn ? BPF_CORE_READ(kn, name) : NULL;
		n = unit ? bpf_probe_read_kernel_str(b->unit, GREETER_UNIT_SIZE, unit) : 0;
		b->unit_len = STR_LEN(n, GREETER_UNIT_SIZE - 1);
		b->unit_cgroup_id = kn ? BPF_CORE_READ(kn, id) : 0;
		b->r.cgroup_id = b->unit_cgroup_id;
	}
	len = b->unit_len & (GREETER_UNIT_SIZE - 1);
	if (bpf_probe_read_kernel(b->data + pos, len, b->unit) < 0)
		len = 0;
	b->r.unit_len = len;
	pos += len;
	*off = pos;
	return b;
}

/*
 * Size classes of ring records: strings take the room they need, rounded up
 * to the next class (16 bytes apart up to 256, where most records fall, 32
 * up to 512, then 64). Each class is a branch of its own: a reservation
 * takes a constant size.
 */
#define RECORD_HEADER ((__u32)sizeof(struct greeter_record))
#define RECORD_MAX (RECORD_HEADER + GREETER_RECORD_DATA_MAX)

/*
 * Reserve a record of class C for size bytes, copy the scratch in, number it.
 * The whole class is copied, a constant: with size, the compiler merges the
 * classes' copies into one, and a 6.1 verifier then sees a size bounded by
 * none of them. The tail past size is the scratch's earlier contents, events
 * of the same ring; the header's lengths say where a record's strings end.
 */
#define EMIT_IN_CLASS(C)                                                                           \
	else if (size <= (C))                                                                      \
	{                                                                                          \
		rec = bpf_ringbuf_reserve(&events, (C), 0);                                        \
		if (rec)                                                                           \
			bpf_probe_read_kernel(rec, (C), b);                                        \
	}

/*
 * Put the record built in this CPU's scratch (size bytes) into the ring;
 * returns 1 when it is there, 0 when it was lost (counted).
 * Submit without waking the reader unless enough data is pending: a wakeup
 * costs far more than the rest of the work, and greeterd drains on a timer.
 * Pending is what greeterd has not read yet: the events it retains in the
 * ring (behind its read position) wake nobody.
 *
 * A global function: the verifier checks it once, for any size, rather than
 * its classes again for every state a caller arrives in (that took most of
 * a cold start's load time).
 */
__noinline int emit_record(__u32 size)
{
	__u32 zero = 0;
	struct record_buf *b = bpf_map_lookup_elem(&scratch, &zero);
	struct greeter_sequence *seq = bpf_map_lookup_elem(&sequence, &zero);
	struct greeter_settings *s;
	struct greeter_record *rec = NULL;
	__u64 threshold, read, flags = BPF_RB_NO_WAKEUP;

	if (!b || size < RECORD_HEADER || size > RECORD_MAX)
		return 0;
	if (0) {
	}
	EMIT_IN_CLASS(80)
	EMIT_IN_CLASS(96)
	EMIT_IN_CLASS(112)
	EMIT_IN_CLASS(128)
	EMIT_IN_CLASS(144)
	EMIT_IN_CLASS(160)
	EMIT_IN_CLASS(176)
	EMIT_IN_CLASS(192)
	EMIT_IN_CLASS(208)
	EMIT_IN_CLASS(224)
	EMIT_IN_CLASS(240)
	EMIT_IN_CLASS(256)
	EMIT_IN_CLASS(288)
	EMIT_IN_CLASS(320)
	EMIT_IN_CLASS(352)
	EMIT_IN_CLASS(384)
	EMIT_IN_CLASS(416)
	EMIT_IN_CLASS(448)
	EMIT_IN_CLASS(480)
	EMIT_IN_CLASS(512)
	EMIT_IN_CLASS(576)
	EMIT_IN_CLASS(640)
	EMIT_IN_CLASS(704)
	EMIT_IN_CLASS(768)
	EMIT_IN_CLASS(832)
	EMIT_IN_CLASS(896)
	EMIT_IN_CLASS(960)
	EMIT_IN_CLASS(1024)
	EMIT_IN_CLASS(1088)
	EMIT_IN_CLASS(1152)
	EMIT_IN_CLASS(1216)
	EMIT_IN_CLASS(1280)
	EMIT_IN_CLASS(1344)
	EMIT_IN_CLASS(1408)
	EMIT_IN_CLASS(RECORD_MAX)
	if (!rec) {
		count(GREETER_STAT_LOST);
		/* Take a sequence number anyway: the gap shows the loss. */
		if (seq)
			__sync_fetch_and_add(&seq->next, 1);
		return 0;
	}
	/* Numbers start at 1: 0 stands for "before the first event". */
	rec->seq = seq ? __sync_fetch_and_add(&seq->next, 1) + 1 : 0;
	s = bpf_map_lookup_elem(&settings, &zero);
	threshold = s ? s->wakeup_bytes : 0;
	read = s ? s->read_pos : 0;
	if (bpf_ringbuf_query(&events, BPF_RB_PROD_POS) - read >= threshold) {
		flags = BPF_RB_FORCE_WAKEUP;
		count(GREETER_STAT_WAKEUPS);
	}
	bpf_ringbuf_submit(rec, flags);
	count(GREETER_STAT_EMITTED);
	return 1;
}

static __always_inline int exec_done(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), off, len;
	struct pending_exec *p = pending_get(tid);
	struct record_buf *b;
	long n;

	/* Succeeded (sched_exec took it), or not seen; a failure seen in standby is the old build's. */
	if (!p || setting(GREETER_SETTING_STANDBY))
		return 0;
	if (ret >= 0) {
		p->tid = 0;
		return 0;
	}
	count(GREETER_STAT_FAILED);
	if (setting(GREETER_SETTING_REPORT_FAILED)) {
		b = start_record(p->comm, &off);
		if (b) {
			b->r.error = (__s32)ret;
			b->r.flags = GREETER_EVENT_FAILED;
			/*
			 * The attempt failed: the old memory is still there, the
			 * filename with it. The arguments are not read: the
			 * argument area is the caller's.
			 */
			off &= 255;
			n = bpf_probe_read_user_str(b->data + off, GREETER_FILENAME_SIZE,
						    (const char *)(long)p->filename);
			len = STR_LEN(n, GREETER_FILENAME_SIZE - 1);
			b->r.filename_len = len;
			emit_record(RECORD_HEADER + off + len);
		}
	}
	p->tid = 0;
	return 0;
}

/*
 * The new program's arguments, at off: the argument area exec has just
 * written (resident), cut at GREETER_ARGS_SIZE bytes. Returns their length.
 */
static __always_inline __u32 read_args(struct record_buf *b, __u32 off)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	/* arg_start and arg_end are adjacent in mm_struct (one declaration): one read. */
	__u64 range[2] = { 0, 0 }, start, end;
	__u64 len;

	if (bpf_core_field_offset(struct mm_struct, arg_end) ==
	    bpf_core_field_offset(struct mm_struct, arg_start) + sizeof(__u64)) {
		bpf_core_read(range, sizeof(range), &mm->arg_start);
	} else {
		range[0] = BPF_CORE_READ(mm, arg_start);
		range[1] = BPF_CORE_READ(mm, arg_end);
	}
	start = range[0];
	end = range[1];
	b->r.flags |= GREETER_EVENT_ARGS;
	if (end <= start)
		return 0;
	len = end - start;
	if (len > GREETER_ARGS_SIZE) {
		len = GREETER_ARGS_SIZE;
		b->r.flags |= GREETER_EVENT_ARGS_TRUNCATED;
	}
	/* Bounds the verifier can see (they change no value). */
	off &= ARGS_OFFSET_MAX - 1;
	len &= 2 * GREETER_ARGS_SIZE - 1;
	if (len > GREETER_ARGS_SIZE)
		return 0;
	if (bpf_probe_read_user(b->data + off, len, (const void *)start) < 0) {
		b->r.flags |= GREETER_EVENT_ARGS_TRUNCATED;
		return 0;
	}
	return (__u32)len;
}

/*
 * Whether another build's program reported this exec already, in this same
 * tracepoint call (an upgrade, while both are attached); if not, it is
 * marked as reported (greeter.h, struct greeter_reported).
 */
static __always_inline bool reported_before(__u32 pid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct greeter_reported *last;
	__u64 start = BPF_CORE_READ(task, start_time);
	__u64 exec = BPF_CORE_READ(task, self_exec_id);
	__u64 mm = (__u64)(long)BPF_CORE_READ(task, mm);
	__u32 zero = 0;
	bool seen;

	last = bpf_map_lookup_elem(&reported, &zero);
	if (!last)
		return false;
	seen = last->pid == pid && last->task_start_ns == start &&
	       (last->exec == exec || last->exec == mm);
	/* Marked by exec count even when an older build marked it by mm. */
	last->pid = pid;
	last->task_start_ns = start;
	last->exec = exec;
	return seen;
}

/*
 * The table's entry for process tgid, if it is that process's and not an
 * earlier one's of its pid. greeterd seeds the table from /proc, whose
 * start times are in ticks of USER_HZ (100 on every architecture Linux
 * runs greeter on): a seeded entry's start is its start cut to the tick.
 */
#define SEED_TICK_NS 10000000ULL
static __always_inline struct greeter_process *process_get(__u32 tgid, __u64 task_start_ns)
{
	struct greeter_process *p = bpf_map_lookup_elem(&processes, &tgid);

	if (!p)
		return NULL;
	if (p->task_start_ns == task_start_ns)
		return p;
	if ((p->flags & GREETER_PROCESS_SEEDED) &&
	    p->task_start_ns == task_start_ns / SEED_TICK_NS * SEED_TICK_NS)
		return p;
	return NULL;
}

/*
 * The exec task's parent was running: the parent's own, or, when the parent
 * is a fork that never exec'd (a subshell), the nearest ancestor's that did.
 */
#define ANCESTOR_STEPS 4
static __always_inline struct greeter_process *parent_exec(struct task_struct *task, __u32 *pid)
{
	struct task_struct *t = task;

	for (int i = 0; i < ANCESTOR_STEPS; i++) {
		struct greeter_process *p;
		__u64 start;
		__u32 tgid;

		t = BPF_CORE_READ(t, real_parent);
		if (!t)
			break;
		tgid = BPF_CORE_READ(t, tgid);
		start = BPF_CORE_READ(t, group_leader, start_boottime);
		p = process_get(tgid, start);
		if (p) {
			*pid = tgid;
			return p;
		}
		if (tgid <= 1)
			break;
	}
	return NULL;
}

/* Copy a table string (NUL-terminated in size bytes) to the record at off; returns its length. */
static __always_inline __u32 put_string(struct record_buf *b, __u32 off, const char *s, __u32 size)
{
	long n;

	off &= ARGS_OFFSET_MAX / 2 - 1;
	n = bpf_probe_read_kernel_str(b->data + off, size, s);
	return STR_LEN(n, size - 1);
}

/*
 * Put the process that just exec'd into the table (replacing its earlier
 * exec, if any): the record's exec, its parent's, the new program's comm,
 * the unit, and the file at b->data + file_off.
 */
static __always_inline void process_exec(struct record_buf *b, struct task_struct *task,
					 __u32 file_off, __u32 file_len)
{
	struct greeter_process *v = &b->proc;
	__u32 tgid = b->r.pid;

	v->task_start_ns = BPF_CORE_READ(task, start_boottime);
	v->exec_ns = b->r.exec_ns;
	v->parent_exec_ns = b->r.parent_exec_ns;
	v->parent_pid = b->r.parent_pid;
	v->cgroup_id = b->r.cgroup_id;
	v->uid = b->r.uid;
	v->gid = b->r.gid;
	v->flags = 0;
	v->reserved = 0;
	bpf_get_current_comm(v->comm, sizeof(v->comm));
	bpf_probe_read_kernel(v->unit, sizeof(v->unit), b->unit);
	v->unit[(b->unit_len & (GREETER_UNIT_SIZE - 1))] = '\0';
	file_off &= 255;
	file_len &= GREETER_FILENAME_SIZE - 1;
	if (bpf_probe_read_kernel(v->file, file_len, b->data + file_off) < 0)
		file_len = 0;
	v->file[file_len] = '\0';
	if (!bpf_map_lookup_elem(&processes, &tgid))
		count(GREETER_STAT_TABLE_ADDED);
	bpf_map_update_elem(&processes, &tgid, v, BPF_ANY);
}

SEC("tp/sched/sched_process_exec")
int sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int loc = ctx->__data_loc_filename & 0xFFFF;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* The thread that called exec, before de_thread() gave it the leader's id. */
	struct pending_exec *p;
	struct greeter_process *parent;
	char comm[GREETER_COMM_SIZE];
	struct record_buf *b;
	__u32 off, len, file_off, parent_pid = 0, zero = 0, flags;
	struct greeter_settings *s = bpf_map_lookup_elem(&settings, &zero);

	flags = s ? s->flags : 0;
	if ((flags & GREETER_SETTING_STANDBY) || reported_before(ctx->pid))
		return 0;
	p = pending_get(ctx->old_pid);
	if (!p)
		bpf_get_current_comm(comm, sizeof(comm));
	b = start_record(p ? p->comm : comm, &off);
	if (b) {
		if (!p) {
			b->r.flags |= GREETER_EVENT_NO_CALLER;
			count(GREETER_STAT_NO_CALLER);
		}
		b->r.exec_ns = b->r.boot_ns;
		/*
		 * The tracepoint stores the filename's length (its NUL counted)
		 * beside its offset: a plain copy, not a string read's byte at a
		 * time. Longer names are cut as a string read would cut them.
		 */
		off &= 255;
		file_off = off;
		len = ctx->__data_loc_filename >> 16;
		len = len > 0 ? len - 1 : 0;
		if (len > GREETER_FILENAME_SIZE - 1)
			len = GREETER_FILENAME_SIZE - 1;
		len &= GREETER_FILENAME_SIZE - 1;
		if (bpf_probe_read_kernel(b->data + off, len, (void *)ctx + loc) < 0)
			len = 0;
		b->r.filename_len = len;
		off += len;
		parent = parent_exec(task, &parent_pid);
		if (parent) {
			b->r.parent_exec_ns = parent->exec_ns;
			b->r.parent_pid = parent_pid;
			len = put_string(b, off, parent->comm, sizeof(parent->comm));
			b->r.parent_comm_len = len;
			off += len;
			len = put_string(b, off, parent->file, sizeof(parent->file));
			b->r.parent_file_len = len;
			off += len;
		}
		process_exec(b, task, file_off, b->r.filename_len);
		if (!(flags & GREETER_SETTING_NO_ARGS)) {
			len = read_args(b, off);
			b->r.args_len = len;
			off += len;
		}
		emit_record(RECORD_HEADER + off);
	}
	if (p)
		p->tid = 0;
	return 0;
}

/* sched_process_exit, for a process whose exec is in the table: see exit_record(). */
#define SIGNAL_GROUP_EXIT 0x00000004 /* include/linux/sched/signal.h, the same in every kernel */

/*
 * The wait status the parent will see: the group's exit code when the
 * group exited together (exit_group(), a fatal signal), else the leader's.
 */
static __always_inline __u32 exit_status(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT)
		return (__u32)BPF_CORE_READ(sig, group_exit_code);
	if (leader == task)
		return (__u32)BPF_CORE_READ(task, exit_code);
	return (__u32)BPF_CORE_READ(leader, exit_code);
}

/*
 * A thread exits. Once the process's last thread does (the thread group's
 * live count is 0), the process is taken out of the table and its exit is
 * reported by whoever took it out: two threads dying at once, or two
 * builds' programs during an upgrade, report it once.
 */
static __always_inline int process_exit(struct task_struct *task)
{
	struct greeter_process *p;
	struct record_buf *b;
	__u32 zero = 0, tgid, off, len;
	__u64 start;

	if (BPF_CORE_READ(task, signal, live.counter) != 0 || setting(GREETER_SETTING_STANDBY))
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	start = BPF_CORE_READ(task, group_leader, start_boottime);
	p = process_get(tgid, start);
	if (!p)
		return 0; /* its exec was not seen, or the table let it go */
	b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	b->r.seq = 0;
	b->r.boot_ns = bpf_ktime_get_boot_ns();
	b->r.cgroup_id = p->cgroup_id;
	b->r.exec_ns = p->exec_ns;
	b->r.parent_exec_ns = p->parent_exec_ns;
	b->r.pid = tgid;
	b->r.ppid = BPF_CORE_READ(task, real_parent, tgid);
	b->r.uid = p->uid;
	b->r.gid = p->gid;
	b->r.error = 0;
	b->r.flags = 0;
	b->r.source = 0;
	b->r.kind = GREETER_KIND_EXIT;
	b->r.parent_pid = p->parent_pid;
	b->r.exit_status = exit_status(task);
	b->r.message_len = 0;
	b->r.parent_comm_len = 0;
	b->r.parent_file_len = 0;
	b->r.args_len = 0;
	b->r.reserved = 0;
	off = 0;
	len = put_string(b, off, p->comm, sizeof(p->comm));
	b->r.comm_len = len;
	off += len;
	len = put_string(b, off, p->unit, sizeof(p->unit));
	b->r.unit_len = len;
	off += len;
	len = put_string(b, off, p->file, sizeof(p->file));
	b->r.filename_len = len;
	off += len;
	/* Copied first: once taken out, the entry may be given to another process. */
	if (bpf_map_delete_elem(&processes, &tgid) != 0)
		return 0;
	count(GREETER_STAT_TABLE_REMOVED);
	if (emit_record(RECORD_HEADER + off))
		count(GREETER_STAT_EXITS);
	return 0;
}

/*
 * A tracepoint of the same kind as sched_exec's, on purpose: while two
 * builds' programs are attached (an upgrade), the kernel runs each kind's
 * in its own order (the newest first for these, the oldest first for raw
 * tracepoints), and execs and exits must go the same way, into the new
 * ring, so that no number in the new ring comes before one still in the
 * replaced ring (events.c drains that one first).
 */
SEC("tp/sched/sched_process_exit")
int proc_exit(void *ctx)
{
	return process_exit((struct task_struct *)bpf_get_current_task());
}

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
