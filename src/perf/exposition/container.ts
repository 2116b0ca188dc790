// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// container_* families with the names, types, units, help and labels kubelet's /metrics/cadvisor serves
// (container, id, image, name, namespace, pod), from the container_metrics collector, in name order.

import type { ContainerCPU, ContainerMemory, ContainerStats } from "../collectors/container-metrics.ts";
import { type FamilyGroup, type Kind, type Labels, n, type Sample } from "./family.ts";

/** cAdvisor reports a limit above 2^62 (the kernel's "unlimited", rounded) as 0. */
const UNLIMITED = 1n << 62n;

/** The six labels kubelet sets on every container series ("" when unknown), in the order Prometheus prints them. */
export function containerLabels(c: ContainerStats, extra?: { cpu: string }): Labels {
  return extra
    ? { container: c.container, cpu: extra.cpu, id: c.id, image: c.image, name: c.name, namespace: c.namespace, pod: c.pod }
    : { container: c.container, id: c.id, image: c.image, name: c.name, namespace: c.namespace, pod: c.pod };
}

const seconds = (nanos: bigint) => n(nanos) / 1e9;

export const containerFamilies: FamilyGroup = {
  name: "container",
  types: ["container_metrics"],
  define(d, fam) {
    const all = () => d.get("container_metrics")?.containers ?? [];
    /** One sample per container that has `part`, when `value` gives one. */
    const per =
      <P>(part: (c: ContainerStats) => P | null, value: (p: P, c: ContainerStats) => number | undefined) =>
      (): Sample[] => {
        const out: Sample[] = [];
        for (const c of all()) {
          const p = part(c);
          if (p === null) continue;
          const v = value(p, c);
          if (v !== undefined) out.push({ labels: containerLabels(c), value: v });
        }
        return out;
      };
    const cpu = (name: string, kind: Kind, help: string, v: (p: ContainerCPU) => number | undefined) =>
      fam(
        name,
        kind,
        help,
        per((c) => c.cpu, v),
      );
    const mem = (name: string, kind: Kind, help: string, v: (p: ContainerMemory) => number | undefined) =>
      fam(
        name,
        kind,
        help,
        per((c) => c.memory, v),
      );
    const throttled = (v: (p: ContainerCPU) => number) => (p: ContainerCPU) => (p.quota_us !== 0n ? v(p) : undefined);

    cpu(
      "container_cpu_cfs_periods_total",
      "counter",
      "Number of elapsed enforcement period intervals.",
      throttled((p) => n(p.cfs_periods)),
    );
    cpu(
      "container_cpu_cfs_throttled_periods_total",
      "counter",
      "Number of throttled period intervals.",
      throttled((p) => n(p.cfs_throttled_periods)),
    );
    cpu(
      "container_cpu_cfs_throttled_seconds_total",
      "counter",
      "Total time duration the container has been throttled.",
      throttled((p) => seconds(p.cfs_throttled_nanos)),
    );
    cpu("container_cpu_system_seconds_total", "counter", "Cumulative system cpu time consumed in seconds.", (p) => seconds(p.system_nanos));
    fam("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", () =>
      all()
        .filter((c) => c.cpu !== null && c.cpu.usage_nanos > 0n)
        .map((c) => ({ labels: containerLabels(c, { cpu: "total" }), value: seconds(c.cpu!.usage_nanos) })),
    );
    cpu("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds.", (p) => seconds(p.user_nanos));
    fam("container_last_seen", "gauge", "Last time a container was seen by the exporter", () => {
      const at = d.get("container_metrics")?.collected_at_seconds ?? 0;
      return all().map((c) => ({ labels: containerLabels(c), value: at }));
    });
    mem("container_memory_cache", "gauge", "Number of bytes of page cache memory.", (p) => n(p.cache_bytes));
    mem("container_memory_failcnt", "counter", "Number of memory usage hits limits", (p) =>
      p.failcnt === null ? undefined : n(p.failcnt),
    );
    mem("container_memory_mapped_file", "gauge", "Size of memory mapped files in bytes.", (p) => n(p.mapped_file_bytes));
    mem("container_memory_rss", "gauge", "Size of RSS in bytes.", (p) => n(p.rss_bytes));
    mem("container_memory_swap", "gauge", "Container swap usage in bytes.", (p) => n(p.swap_bytes));
    mem("container_memory_total_active_file_bytes", "gauge", "Current total active file in bytes.", (p) => n(p.active_file_bytes));
    mem("container_memory_total_inactive_file_bytes", "gauge", "Current total inactive file in bytes.", (p) => n(p.inactive_file_bytes));
    mem(
      "container_memory_usage_bytes",
      "gauge",
      "Current memory usage in bytes, including all memory regardless of when it was accessed",
      (p) => n(p.usage_bytes),
    );
    mem("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", (p) => n(p.working_set_bytes));
    mem("container_oom_events_total", "counter", "Count of out of memory events observed for the container", (p) =>
      p.oom_kills === null ? undefined : n(p.oom_kills),
    );
    cpu("container_spec_cpu_period", "gauge", "CPU period of the container.", (p) => n(p.period_us));
    cpu("container_spec_cpu_quota", "gauge", "CPU quota of the container.", (p) => (p.quota_us !== 0n ? n(p.quota_us) : undefined));
    cpu("container_spec_cpu_shares", "gauge", "CPU share of the container.", (p) => n(p.shares));
    mem("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.", (p) =>
      p.limit_bytes > UNLIMITED ? 0 : n(p.limit_bytes),
    );
    fam("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds.", () =>
      all()
        .filter((c) => c.start_time_seconds !== null)
        .map((c) => ({ labels: containerLabels(c), value: c.start_time_seconds! })),
    );
  },
};
