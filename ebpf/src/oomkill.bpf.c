// SPDX-License-Identifier: GPL-2.0-only
/*
 * oomkill: one ring-buffer record per OOM kill, from the tracepoint oom:mark_victim (the kernel
 * marks the task it is about to kill). The victim's pid comes from the tracepoint; its comm, sizes,
 * uid and oom_score_adj too where the kernel has those fields (CO-RE field checks, 6.x); the
 * triggering task (current) gives the cgroup id, its memory cgroup's id (v1 or v2: the directory's
 * inode, which outlives the victim's /proc entry) and its own pid/comm.
 *
 * The victim's own cgroup ids (v2 cgroup id, memory cgroup id) are read in the victim's context, so
 * userspace can name its container after the process is reaped (and need not race the reaper):
 * when the victim is current (it ran into the limit itself) the record is sent at once; otherwise the
 * record waits in `pending` (keyed by the victim's tid) until the victim's sched_process_exit, which
 * fills them in and sends it. The killer marks the victim under its task lock, which the victim's
 * exit takes before that tracepoint, so the exit always comes after the mark. A full `pending`
 * sends the record at once, without victim ids. A failed output is counted in `lost` (OOM kills are
 * rare: the ring never fills in practice).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "oomkill_types.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, OOMKILL_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* victim tid -> its kill's record, until the victim exits */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOMKILL_PENDING_MAX);
	__type(key, __u32);
	__type(value, struct oomkill_event);
} pending SEC(".maps");

struct oomkill_event _oomkill_event_btf = {};

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&lost, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* kernfs id of current's memory cgroup (v1 or v2), 0 without memcg */
static __always_inline __u64 current_memcg_id(void)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct cgroup_subsys_state *css = NULL;
	if (!cset || mem < 0 || mem >= 16)
		return 0;
	bpf_core_read(&css, sizeof(css), &cset->subsys[mem]);
	return css ? BPF_CORE_READ(css, cgroup, kn, id) : 0;
}

/* the victim is current: its cgroup ids, and its comm where the tracepoint had none */
static __always_inline void fill_victim(struct oomkill_event *e)
{
	e->victim_cgroup_id = bpf_get_current_cgroup_id();
	e->victim_memcg_id = current_memcg_id();
	if (!e->comm[0])
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
}

static __always_inline void send(const struct oomkill_event *src)
{
	struct oomkill_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return;
	}
	__builtin_memcpy(e, src, sizeof(*e));
	bpf_ringbuf_submit(e, 0);
}

SEC("tracepoint/oom/mark_victim")
int tracepoint__oom__mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	/* the record is built on the stack (120 bytes) and copied: it goes to the ring or to `pending` */
	struct oomkill_event e;
	__builtin_memset(&e, 0, sizeof(e));
	e.ts_ns = bpf_ktime_get_ns();
	e.victim_pid = BPF_CORE_READ(ctx, pid);
	__u64 id = bpf_get_current_pid_tgid();
	e.trigger_pid = id >> 32;
	e.trigger_cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(&e.trigger_comm, sizeof(e.trigger_comm));
	e.memcg_id = current_memcg_id();
	if (bpf_core_field_exists(ctx->total_vm)) {
		e.total_vm_kb = BPF_CORE_READ(ctx, total_vm);
		e.anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
		e.file_rss_kb = BPF_CORE_READ(ctx, file_rss);
		e.shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
		e.uid = BPF_CORE_READ(ctx, uid);
		e.oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
	}
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		__u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);
		bpf_probe_read_kernel_str(e.comm, sizeof(e.comm), (void *)ctx + (loc & 0xffff));
	}
	/* the tracepoint's pid is the victim thread's (task->pid) */
	__u32 tid = (__u32)id;
	if (e.victim_pid == tid) {
		fill_victim(&e);
		send(&e);
		return 0;
	}
	if (bpf_map_update_elem(&pending, &e.victim_pid, &e, BPF_ANY) != 0)
		send(&e); /* pending full: without the victim's ids */
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tracepoint__sched__sched_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct oomkill_event *p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	struct oomkill_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
	} else {
		__builtin_memcpy(e, p, sizeof(*e));
		fill_victim(e);
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}
