// SPDX-License-Identifier: GPL-2.0-only
/*
 * execsnoop: one ring-buffer record per execve(2), successful or failed.
 *
 * sys_enter_execve captures pid, ppid, uid, a kernel timestamp and up to max_args argv strings
 * into a per-pid hash entry; sys_exit_execve adds retval and the (post-exec) comm and emits a
 * variable-sized record: header + args_size bytes. A failed emit (ring buffer full) is counted in
 * the per-CPU `lost` map, because the ring buffer itself does not report drops.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "execsnoop_types.h"

char LICENSE[] SEC("license") = "GPL";

const volatile int max_args = DEFAULT_MAXARGS;
/*
 * Notification batching: 0 wakes the reader on every record (the original's behaviour). Otherwise
 * the reader is woken only once this many bytes wait in the ring, and polls on a timer for the
 * rest, so a busy host costs one wakeup per batch instead of one per exec.
 */
const volatile __u64 wakeup_bytes = 0;

struct event {
	struct execsnoop_event hdr;
	char args[FULL_MAX_ARGS_ARR];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EXECSNOOP_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, pid_t);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} heap SEC(".maps");

/* index 0: records the ring buffer refused (full); index 1: enter events not stored (hash full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &idx);
	if (v)
		*v += 1;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u32 zero = 0;
	struct event *ev = bpf_map_lookup_elem(&heap, &zero);
	if (!ev)
		return 0;

	__u64 id = bpf_get_current_pid_tgid();
	pid_t pid = id >> 32;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	ev->hdr.pid = pid;
	ev->hdr.uid = (__u32)bpf_get_current_uid_gid();
	ev->hdr.ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->hdr.retval = 0;
	ev->hdr.args_count = 0;
	ev->hdr.args_size = 0;
	ev->hdr.timestamp_ns = bpf_ktime_get_ns();

	const char **argv = (const char **)(ctx->args[1]);
	int limit = max_args;
	if (limit > TOTAL_MAX_ARGS)
		limit = TOTAL_MAX_ARGS;

	__u32 size = 0;
	int count = 0;
	for (int i = 0; i < TOTAL_MAX_ARGS; i++) {
		if (i >= limit)
			break;
		const char *argp = NULL;
		if (bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) || !argp)
			break;
		if (size > FULL_MAX_ARGS_ARR - ARGSIZE)
			break;
		int n = bpf_probe_read_user_str(&ev->args[size], ARGSIZE, argp);
		if (n <= 0)
			break;
		count++;
		size += n;
	}
	ev->hdr.args_count = count;
	ev->hdr.args_size = size;

	if (bpf_map_update_elem(&execs, &pid, ev, BPF_ANY))
		count_lost(1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct event *ev = bpf_map_lookup_elem(&execs, &pid);
	if (!ev)
		return 0;

	ev->hdr.retval = ctx->ret;
	bpf_get_current_comm(&ev->hdr.comm, sizeof(ev->hdr.comm));

	__u32 args_size = ev->hdr.args_size;
	if (args_size > FULL_MAX_ARGS_ARR)
		args_size = FULL_MAX_ARGS_ARR;
	ev->hdr.args_size = args_size;
	__u64 len = sizeof(struct execsnoop_event) + args_size;
	if (len > sizeof(struct event))
		len = sizeof(struct event);

	__u64 flags = 0;
	if (wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + len >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, ev, len, flags))
		count_lost(0);

	bpf_map_delete_elem(&execs, &pid);
	return 0;
}
