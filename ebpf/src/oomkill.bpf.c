// SPDX-License-Identifier: GPL-2.0-only
/*
 * oomkill: one ring-buffer record per OOM kill, from the tracepoint oom:mark_victim (the kernel
 * marks the task it is about to kill). The victim's pid comes from the tracepoint; its comm, sizes,
 * uid and oom_score_adj too where the kernel has those fields (CO-RE field checks, 6.x); the
 * triggering task (current) gives the cgroup id, its memory cgroup's id (v1 or v2: the directory's
 * inode, which outlives the victim's /proc entry) and its own pid/comm. A failed output is counted
 * in `lost` (OOM kills are rare: the ring never fills in practice).
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

struct oomkill_event _oomkill_event_btf = {};

SEC("tracepoint/oom/mark_victim")
int tracepoint__oom__mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct oomkill_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *v = bpf_map_lookup_elem(&lost, &zero);
		if (v)
			__sync_fetch_and_add(v, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->victim_pid = BPF_CORE_READ(ctx, pid);
	e->trigger_pid = bpf_get_current_pid_tgid() >> 32;
	e->trigger_cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(&e->trigger_comm, sizeof(e->trigger_comm));
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct css_set *cset = BPF_CORE_READ(task, cgroups);
		struct cgroup_subsys_state *css = NULL;
		if (cset && mem >= 0 && mem < 16) {
			bpf_core_read(&css, sizeof(css), &cset->subsys[mem]);
			if (css)
				e->memcg_id = BPF_CORE_READ(css, cgroup, kn, id);
		}
	}
	if (bpf_core_field_exists(ctx->total_vm)) {
		e->total_vm_kb = BPF_CORE_READ(ctx, total_vm);
		e->anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
		e->file_rss_kb = BPF_CORE_READ(ctx, file_rss);
		e->shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
		e->uid = BPF_CORE_READ(ctx, uid);
		e->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
	}
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		__u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), (void *)ctx + (loc & 0xffff));
	} else if (e->trigger_pid == e->victim_pid) {
		__builtin_memcpy(e->comm, e->trigger_comm, sizeof(e->comm));
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
