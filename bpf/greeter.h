/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between greeter.bpf.c and user space: limits, map values, the event
 * record. This is the only place these layouts are written down. Any change
 * to a layout below must bump GREETER_ABI_VERSION, so that greeterd replaces
 * (and migrates) pins made by an older build instead of misreading them.
 *
 * Include after the integer types (__u32, ...) are defined: vmlinux.h on the
 * kernel side, <linux/types.h> in user space.
 */
#ifndef GREETER_H
#define GREETER_H

#ifndef GREETER_ABI_VERSION /* the tests' next-ABI build sets another (tests/integration/variant/) */
#define GREETER_ABI_VERSION 4
#endif
/*
 * The oldest ABI whose event records this build reads: ABI 1 and 2 wrote
 * struct greeter_event_v2, ABI 3 struct greeter_record_v3, and from
 * GREETER_LIFE_ABI on struct greeter_record (exec ids, exits).
 */
#define GREETER_EVENT_ABI_MIN 1
#define GREETER_RECORD_ABI 3
#define GREETER_LIFE_ABI 4

/* A message is up to 63 bytes of UTF-8 plus its terminating NUL. */
#define GREETER_MESSAGE_SIZE 64
#define GREETER_MESSAGE_MAX (GREETER_MESSAGE_SIZE - 1)
#define GREETER_COMM_SIZE 16
#define GREETER_FILENAME_SIZE 256
/* Leaf of the cgroup v2 path (the unit): longer names are cut. */
#define GREETER_UNIT_SIZE 64
/*
 * Argument bytes read at most (NULs included: "ls\0-l\0" is 6), and
 * arguments kept at most (user space splits the bytes and keeps this many).
 */
#define GREETER_ARGS_SIZE 1024
#define GREETER_ARGS_MAX 128
#define GREETER_MAX_MESSAGES 16384
#define GREETER_PENDING_MAX 16384
/* Live processes the process table holds; the least recently used go first. */
#define GREETER_PROCESS_MAX 16384
/* Key of the default message in the config map; never a valid UID. */
#define GREETER_DEFAULT_UID 0xffffffffu
#define GREETER_BUILTIN_MESSAGE "Hello World"

/* Value of the config map (uid -> message). */
struct greeter_message {
	char text[GREETER_MESSAGE_SIZE];
};

/* Where an event's message came from. */
enum greeter_source {
	GREETER_SOURCE_UID = 0, /* the UID's own message */
	GREETER_SOURCE_DEFAULT = 1, /* the default message (key GREETER_DEFAULT_UID) */
	GREETER_SOURCE_BUILTIN = 2, /* GREETER_BUILTIN_MESSAGE */
};

enum greeter_event_flags {
	/* An exec attempt that failed (error holds -errno); sent only when asked for. */
	GREETER_EVENT_FAILED = 1 << 0,
	/* The syscall entry was not seen (attached mid-exec): comm is the new program's. */
	GREETER_EVENT_NO_CALLER = 1 << 1,
	/* The arguments were read (not with --no-args, not for failed attempts). */
	GREETER_EVENT_ARGS = 1 << 2,
	/* More arguments than were read: cut at GREETER_ARGS_SIZE bytes. */
	GREETER_EVENT_ARGS_TRUNCATED = 1 << 3,
};

/* One record in the events ring buffer of ABI 1 and 2: fixed, 376 bytes. */
struct greeter_event_v2 {
	__u64 seq;
	__u64 boot_ns;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__s32 error;
	__u16 flags;
	__u8 source;
	__u8 reserved;
	char comm[GREETER_COMM_SIZE];
	char filename[GREETER_FILENAME_SIZE];
	char message[GREETER_MESSAGE_SIZE];
};

/* One record in the events ring buffer of ABI 3: as struct greeter_record, without life. */
struct greeter_record_v3 {
	__u64 seq;
	__u64 boot_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__s32 error;
	__u16 flags;
	__u8 source;
	__u8 reserved;
	__u16 comm_len;
	__u16 message_len;
	__u16 unit_len;
	__u16 filename_len;
	__u16 args_len;
	__u16 reserved2;
	__u32 reserved3;
};

/* What a record tells. */
enum greeter_record_kind {
	GREETER_KIND_EXEC = 0, /* a program started (or, flagged FAILED, an attempt failed) */
	GREETER_KIND_EXIT = 1, /* a process whose exec was seen ended: its last thread exited */
};

/*
 * One record in the events ring buffer (ABI 4 on): this header, then the
 * strings back to back, without NULs, in this order: comm, message, unit,
 * filename, parent_comm, parent_file, args. args are the bytes of the
 * argument area as the kernel holds them: each argument ends in a NUL, but
 * the last when cut. A record may be longer than the header and strings say
 * (rounded up to a size class).
 *
 * An exec is named by its pid and exec_ns (user space adds the boot id: the
 * exec id). An exit carries the exec it ends: a program that execs again
 * (sh -c 'exec id') is one process with two execs, and its one exit names
 * the last, the program that was running when it ended.
 */
struct greeter_record {
	__u64 seq; /* 1, 2, ...: grows by one per event, across daemon restarts */
	__u64 boot_ns; /* CLOCK_BOOTTIME of the exec, or of the exit */
	__u64 cgroup_id; /* of the process's cgroup v2 (its inode number) */
	/* The exec: CLOCK_BOOTTIME when it happened (an exec's own boot_ns); 0 for a failed attempt. */
	__u64 exec_ns;
	/* The exec the parent was running (of parent_pid), 0 when unknown. */
	__u64 parent_exec_ns;
	__u32 pid; /* process (tgid) */
	__u32 ppid; /* its parent's tgid, at the exec */
	__u32 uid; /* real UID */
	__u32 gid; /* real GID */
	__s32 error; /* 0, or -errno of a failed attempt */
	__u16 flags; /* enum greeter_event_flags */
	__u8 source; /* enum greeter_source */
	__u8 kind; /* enum greeter_record_kind */
	/*
	 * The process of parent_exec_ns: ppid, or the nearest ancestor that
	 * exec'd when the parent is a fork that never did.
	 */
	__u32 parent_pid;
	/* An exit's wait status, as waitpid() gives it: code << 8, or the signal (| 0x80: core dumped). */
	__u32 exit_status;
	__u16 comm_len; /* an exec: the caller's, before the exec; an exit: the process's */
	__u16 message_len;
	__u16 unit_len; /* leaf name of the cgroup v2 path */
	__u16 filename_len; /* the file executed */
	__u16 parent_comm_len; /* the parent exec's, from the process table */
	__u16 parent_file_len;
	__u16 args_len; /* argument bytes */
	__u16 reserved;
};

/* The most a record's strings take. */
#define GREETER_RECORD_DATA_MAX                                                                  \
	(2 * (GREETER_COMM_SIZE + GREETER_FILENAME_SIZE) + GREETER_MESSAGE_SIZE +                 \
	 GREETER_UNIT_SIZE + GREETER_ARGS_SIZE)

/* Per-CPU counters, the index into the stats map. */
enum greeter_stat {
	GREETER_STAT_EMITTED = 0, /* events written to the ring buffer */
	GREETER_STAT_LOST = 1, /* ring buffer full: event lost */
	GREETER_STAT_FAILED = 2, /* exec attempts that failed */
	GREETER_STAT_NO_CALLER = 3, /* exec completed without a seen syscall entry */
	GREETER_STAT_WAKEUPS = 4, /* submits that woke user space */
	GREETER_STAT_EXITS = 5, /* exit events written to the ring buffer */
	/* Entries put into the process table by an exec, and taken out by an exit. */
	GREETER_STAT_TABLE_ADDED = 6,
	GREETER_STAT_TABLE_REMOVED = 7,
	/* Put in by greeterd when it made the table (user space writes this one). */
	GREETER_STAT_TABLE_SEEDED = 8,
	GREETER_STAT_MAX = 9,
};

enum greeter_setting_flags {
	/* Put failed exec attempts into the stream too. */
	GREETER_SETTING_REPORT_FAILED = 1 << 0,
	/* Do not read the arguments (greeterd --no-args): events carry none. */
	GREETER_SETTING_NO_ARGS = 1 << 1,
	/*
	 * Attached beside another build's programs, which still report (an
	 * upgrade, until greeterd puts this build in place): do nothing. The
	 * kernel runs two builds' programs in an order of its own, not the
	 * same on every tracepoint; were both to report, an exec could go into
	 * one ring and the exits around it into the other, their numbers
	 * interleaved across rings read one after the other.
	 */
	GREETER_SETTING_STANDBY = 1 << 2,
};

/* Value of the settings map (one entry), written by greeterd only. */
struct greeter_settings {
	__u64 wakeup_bytes; /* wake user space once this much is pending past read_pos */
	__u32 flags; /* enum greeter_setting_flags */
	/*
	 * Bytes past read_pos that greeterd may have handed on already (the
	 * batch in flight): after a kill, the next greeterd hands them on again
	 * and counts them as repeated. 0 from builds before it was kept.
	 */
	__u32 handing;
	/*
	 * Ring position up to which greeterd has read and handed events on;
	 * the next greeterd reads on from here. Wakeups count from it, not
	 * from the consumer position, which may lag behind (events retained).
	 */
	__u64 read_pos;
};

/*
 * Value of the sequence map (one entry). Shared by every build from ABI 2
 * on, whatever its ABI: the old build's programs and the new one's number
 * from this one counter while both are attached. This layout never changes.
 */
struct greeter_sequence {
	__u64 next; /* events numbered so far; the next one gets next + 1 */
	/* Random, made when numbering starts at 1; kept while it continues. */
	__u64 stream_id;
};

/*
 * Value of the reported map (one entry per CPU): the last exec that
 * sched_process_exec reported on this CPU. During an upgrade the old
 * build's programs and the new one's both run, one after the other in the
 * same tracepoint call on the same CPU; the second finds the exec here and
 * does not report it again. A task (pid and start time) counts its execs
 * (self_exec_id): the three name one exec, however often a program execs
 * itself. Builds before this one wrote the address of the task's mm in
 * exec: an address, never an exec count, and compared as such while such a
 * build runs beside this one (the mm's address may repeat across a task's
 * execs, so it cannot name one exec alone). Shared by every build whatever
 * its ABI: this layout never changes.
 */
struct greeter_reported {
	__u64 task_start_ns; /* the task's start_time */
	__u64 exec; /* the task's self_exec_id after the exec */
	__u32 pid;
	__u32 reserved;
};

enum greeter_process_flags {
	/*
	 * Put in by greeterd when it made the table, for a process already
	 * running, from /proc: no exec seen; its start times are cut to the
	 * 10 ms tick /proc gives.
	 */
	GREETER_PROCESS_SEEDED = 1 << 0,
};

/*
 * Value of the process table (key: the process's tgid): its exec, and the
 * exec its parent was running. An exec puts the process in (or replaces
 * its earlier exec), its exit takes it out and reports it. Shared by every
 * build whatever its ABI, so an exit is reported once during an upgrade:
 * this layout never changes (a new layout is a map of another name).
 */
struct greeter_process {
	__u64 task_start_ns; /* the task's start_boottime: tells a pid used again */
	/* CLOCK_BOOTTIME of the exec (a seeded process: its start, cut to the tick) */
	__u64 exec_ns;
	__u64 parent_exec_ns; /* 0 when unknown */
	__u64 cgroup_id;
	__u32 parent_pid;
	__u32 uid;
	__u32 gid;
	__u16 flags; /* enum greeter_process_flags */
	__u16 reserved;
	char comm[GREETER_COMM_SIZE]; /* NUL-terminated */
	char unit[GREETER_UNIT_SIZE]; /* NUL-terminated */
	/* The file executed, NUL-terminated (a seeded process: its executable now). */
	char file[GREETER_FILENAME_SIZE];
};

/* Value of the meta map (one entry): identifies the build that made the pins. */
struct greeter_meta {
	__u32 abi_version; /* GREETER_ABI_VERSION */
	__u32 attach_mode; /* enum greeter_attach_mode */
	__u64 build_id; /* hash of the BPF object that is pinned */
	__u64 created_boot_ns;
	char attach_reason[128]; /* why this attach mode was chosen */
};

enum greeter_attach_mode {
	GREETER_ATTACH_AUTO = 0,
	GREETER_ATTACH_KPROBE = 1,
	GREETER_ATTACH_TRACEPOINT = 2,
};

#endif /* GREETER_H */
