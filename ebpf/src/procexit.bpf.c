// SPDX-License-Identifier: GPL-2.0-only
/*
 * procexit: one ring-buffer record per process exit (sched_process_exit of a thread-group leader)
 * and per successful exec (sched_process_exec), in the libbpf-tools style, for the runtime graph's
 * live updates. Threads that exit alone are not reported. A record the ring buffer refuses is
 * counted in the per-CPU `lost` map (the ring buffer does not report drops).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "procexit_types.h"

char LICENSE[] SEC("license") = "GPL";

/* 0 wakes the reader for every record; otherwise once this many bytes wait (the reader also polls on a timer). */
const volatile __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PROCEXIT_RINGBUF_BYTES);
} events SEC(".maps");

/* index 0: records the ring buffer refused (full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline int emit(__u32 kind, __s32 exit_code)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct procexit_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__u32 zero = 0;
		__u64 *v = bpf_map_lookup_elem(&lost, &zero);
		if (v)
			*v += 1;
		return 0;
	}
	ev->pid = id >> 32;
	ev->ppid = BPF_CORE_READ(task, real_parent, tgid);
	ev->exit_code = exit_code;
	ev->kind = kind;
	bpf_get_current_comm(&ev->comm, sizeof(ev->comm));
	ev->timestamp_ns = bpf_ktime_get_ns();
	__u64 flags = 0;
	if (wakeup_bytes) {
		__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
		flags = avail + sizeof(*ev) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(ev, flags);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)id != (__u32)(id >> 32))
		return 0; /* a thread, not the process */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return emit(PROCEXIT_KIND_EXIT, BPF_CORE_READ(task, exit_code));
}

SEC("tracepoint/sched/sched_process_exec")
int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	return emit(PROCEXIT_KIND_EXEC, 0);
}
