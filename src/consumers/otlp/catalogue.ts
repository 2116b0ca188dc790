// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The metric catalogue: which OTLP instruments (names, units, attributes) each metric type becomes,
// as the original names them. Where the original is wrong (aliased attributes, cumulative totals
// added to counters, kernel data never exported, a lifetime average called utilisation) the intended
// value is sent; docs/otlp.md lists each difference.

import type { MetricEvent } from "../../perf/collector.ts";
import type { CPUTimeCounters } from "../../perf/collectors/cpu.ts";
import type { KmsgRecord } from "../../perf/parsers/kmsg.ts";
import type { RequestBuilder } from "./batch.ts";

/** State the catalogue keeps across events: the last CPU counters (for utilisation) and kernel message totals. */
export class CatalogueState {
  readonly cpu = new Map<number, CPUTimeCounters>();
  readonly kernelBySeverity = new Map<number, bigint>();
  /** Highest kmsg sequence number counted: point mode hands the same recent records again. */
  kernelLastSeq = -1n;
}

/** Metric types the catalogue exports; others (inventory, cgroups, ...) are not sent, as in the original. */
export const EXPORTED_TYPES = ["load", "memory", "cpu", "process", "disk", "network", "tcp", "system", "kernel", "numa_stats"] as const;

const TCP_STATES = [
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT1",
  "FIN_WAIT2",
  "TIME_WAIT",
  "CLOSE",
  "CLOSE_WAIT",
  "LAST_ACK",
  "LISTEN",
  "CLOSING",
];

const big = (v: unknown): bigint => (typeof v === "bigint" ? v : typeof v === "number" ? BigInt(Math.trunc(v)) : 0n);

/** Adds the data points of one event; returns false for a type that is not exported. */
export function addEvent(b: RequestBuilder, e: MetricEvent, state: CatalogueState): boolean {
  const t = BigInt(e.timestamp.getTime()) * 1_000_000n;
  switch (e.metricType) {
    case "load": {
      const d = e.data;
      b.gaugeDouble("system.cpu.load_average.1m", "1", d.load_1min, {}, t);
      b.gaugeDouble("system.cpu.load_average.5m", "1", d.load_5min, {}, t);
      b.gaugeDouble("system.cpu.load_average.15m", "1", d.load_15min, {}, t);
      b.gaugeInt("system.processes.count", "1", d.running_procs, { state: "running" }, t);
      b.gaugeDouble("system.uptime", "s", Number(d.uptime) / 1e9, {}, t);
      return true;
    }
    case "memory": {
      const m = e.data as Record<string, unknown>;
      const v = (k: string) => big(m[k]);
      const usage = "system.memory.usage";
      b.gaugeInt(usage, "By", v("mem_free"), { state: "free" }, t);
      b.gaugeInt(usage, "By", v("mem_total") - v("mem_available"), { state: "used" }, t);
      b.gaugeInt(usage, "By", v("mem_available"), { state: "available" }, t);
      b.gaugeInt(usage, "By", v("buffers"), { state: "buffers" }, t);
      b.gaugeInt(usage, "By", v("cached"), { state: "cached" }, t);
      if (v("swap_total") > 0n) {
        b.gaugeInt("system.memory.swap_usage", "By", v("swap_free"), { state: "free" }, t);
        b.gaugeInt("system.memory.swap_usage", "By", v("swap_total") - v("swap_free"), { state: "used" }, t);
      }
      for (const [name, field] of [
        ["swap.cached", "swap_cached"],
        ["active", "active"],
        ["inactive", "inactive"],
        ["dirty", "dirty"],
        ["writeback", "writeback"],
        ["anon_pages", "anon_pages"],
        ["mapped", "mapped"],
        ["shmem", "shmem"],
      ] as const)
        b.gaugeInt(`system.memory.${name}`, "By", v(field), {}, t);
      b.gaugeInt("system.memory.slab", "By", v("s_reclaimable"), { type: "reclaimable" }, t);
      b.gaugeInt("system.memory.slab", "By", v("s_unreclaim"), { type: "unreclaimable" }, t);
      b.gaugeInt("system.memory.kernel_stack", "By", v("kernel_stack"), {}, t);
      b.gaugeInt("system.memory.page_tables", "By", v("page_tables"), {}, t);
      b.gaugeInt("system.memory.commit", "By", v("commit_limit"), { type: "limit" }, t);
      b.gaugeInt("system.memory.commit", "By", v("committed_as"), { type: "committed_as" }, t);
      b.gaugeInt("system.memory.vmalloc", "By", v("vmalloc_total"), { type: "total" }, t);
      b.gaugeInt("system.memory.vmalloc", "By", v("vmalloc_used"), { type: "used" }, t);
      const pageSize = v("hugepage_size");
      if (v("hugepages_total") > 0n && pageSize > 0n) {
        // the collector holds huge page counts multiplied by the page size (the original's JSON); the instrument counts pages
        for (const [state, field] of [
          ["total", "hugepages_total"],
          ["free", "hugepages_free"],
          ["reserved", "hugepages_rsvd"],
          ["surplus", "hugepages_surp"],
        ] as const)
          b.gaugeInt("system.memory.huge_pages", "1", v(field) / pageSize, { state }, t);
        b.gaugeInt("system.memory.huge_pages.bytes", "By", v("hugetlb"), {}, t);
      }
      b.counter("system.memory.swap.io", "1", v("swap_in"), { direction: "in" }, t);
      b.counter("system.memory.swap.io", "1", v("swap_out"), { direction: "out" }, t);
      return true;
    }
    case "cpu": {
      for (const c of e.data) {
        const prev = state.cpu.get(c.cpu_index);
        state.cpu.set(c.cpu_index, { ...c });
        // utilisation over the interval since the last collection; since boot on the first one
        const d = (k: keyof CPUTimeCounters) => Number(prev && c[k] >= prev[k] ? c[k] - prev[k] : c[k]);
        const total = (["user", "nice", "system", "idle", "io_wait", "irq", "soft_irq", "steal", "guest", "guest_nice"] as const).reduce(
          (s, k) => s + d(k),
          0,
        );
        if (total <= 0) continue;
        const cpu = String(c.cpu_index);
        for (const [s, k] of [
          ["user", "user"],
          ["system", "system"],
          ["idle", "idle"],
          ["iowait", "io_wait"],
          ["steal", "steal"],
        ] as const)
          b.gaugeDouble("system.cpu.utilization", "1", d(k) / total, { cpu, state: s }, t);
      }
      return true;
    }
    case "process": {
      b.gaugeInt("system.processes.count", "1", e.data.length, {}, t);
      b.gaugeInt(
        "system.memory.usage",
        "By",
        e.data.reduce((s, p) => s + p.memory_rss, 0n),
        { state: "processes" },
        t,
      );
      return true;
    }
    case "disk": {
      for (const d of e.data) {
        const dev = { device: d.device };
        const dir = (direction: string) => ({ device: d.device, direction });
        b.counter("system.disk.operations", "1", d.reads_completed, dir("read"), t);
        b.counter("system.disk.operations", "1", d.writes_completed, dir("write"), t);
        b.counter("system.disk.io", "By", d.sectors_read * 512n, dir("read"), t);
        b.counter("system.disk.io", "By", d.sectors_written * 512n, dir("write"), t);
        b.gaugeInt("system.disk.io.in_progress", "1", d.i_os_in_progress, dev, t);
        b.counter("system.disk.operations.merged", "1", d.reads_merged, dir("read"), t);
        b.counter("system.disk.operations.merged", "1", d.writes_merged, dir("write"), t);
        b.counter("system.disk.io.time", "ms", d.read_time, dir("read"), t);
        b.counter("system.disk.io.time", "ms", d.write_time, dir("write"), t);
        b.counter("system.disk.io.active_time", "ms", d.io_time, dev, t);
        b.counter("system.disk.io.weighted_time", "ms", d.weighted_io_time, dev, t);
      }
      return true;
    }
    case "network": {
      for (const n of e.data) {
        const dev = { device: n.interface };
        const rx = { device: n.interface, direction: "receive" };
        const tx = { device: n.interface, direction: "transmit" };
        b.counter("system.network.io", "By", n.rx_bytes, rx, t);
        b.counter("system.network.io", "By", n.tx_bytes, tx, t);
        b.counter("system.network.packets", "1", n.rx_packets, rx, t);
        b.counter("system.network.packets", "1", n.tx_packets, tx, t);
        b.counter("system.network.errors", "1", n.rx_errors, rx, t);
        b.counter("system.network.errors", "1", n.tx_errors, tx, t);
        b.counter("system.network.dropped", "1", n.rx_dropped, rx, t);
        b.counter("system.network.dropped", "1", n.tx_dropped, tx, t);
        b.gaugeInt("system.network.interface.speed", "Mbit/s", n.speed, dev, t);
        b.gaugeInt("system.network.interface.up", "1", n.oper_state === "up" ? 1 : 0, dev, t);
        b.gaugeInt("system.network.interface.carrier", "1", n.link_detected ? 1 : 0, dev, t);
      }
      return true;
    }
    case "tcp": {
      const s = e.data as Record<string, unknown>;
      const v = (k: string) => big(s[k]);
      const byState = e.data.connections_by_state ?? {};
      for (const st of TCP_STATES) b.gaugeInt("system.network.connections", "1", byState[st] ?? 0, { protocol: "tcp", state: st }, t);
      b.gaugeInt("system.network.tcp.connection.established", "1", v("curr_estab"), {}, t);
      const tcp = "system.network.tcp";
      b.counter(`${tcp}.connection.opens`, "1", v("active_opens"), { type: "active" }, t);
      b.counter(`${tcp}.connection.opens`, "1", v("passive_opens"), { type: "passive" }, t);
      b.counter(`${tcp}.connection.attempt_fails`, "1", v("attempt_fails"), {}, t);
      b.counter(`${tcp}.connection.estab_resets`, "1", v("estab_resets"), {}, t);
      b.counter(`${tcp}.segments`, "1", v("in_segs"), { direction: "in" }, t);
      b.counter(`${tcp}.segments`, "1", v("out_segs"), { direction: "out" }, t);
      b.counter(`${tcp}.retrans_segs`, "1", v("retrans_segs"), {}, t);
      b.counter(`${tcp}.errors`, "1", v("in_errs"), { type: "in_errors" }, t);
      b.counter(`${tcp}.errors`, "1", v("out_rsts"), { type: "out_resets" }, t);
      b.counter(`${tcp}.errors`, "1", v("in_csum_errors"), { type: "checksum_errors" }, t);
      b.counter(`${tcp}.syncookies`, "1", v("syncookies_sent"), { result: "sent" }, t);
      b.counter(`${tcp}.syncookies`, "1", v("syncookies_recv"), { result: "received" }, t);
      b.counter(`${tcp}.syncookies`, "1", v("syncookies_failed"), { result: "failed" }, t);
      b.counter(`${tcp}.listen_issues`, "1", v("listen_overflows"), { type: "overflows" }, t);
      b.counter(`${tcp}.listen_issues`, "1", v("listen_drops"), { type: "drops" }, t);
      b.counter(`${tcp}.retrans_detail`, "1", v("tcp_lost_retransmit"), { type: "lost" }, t);
      b.counter(`${tcp}.retrans_detail`, "1", v("tcp_fast_retrans"), { type: "fast" }, t);
      b.counter(`${tcp}.retrans_detail`, "1", v("tcp_slow_start_retrans"), { type: "slow_start" }, t);
      b.counter(`${tcp}.timeouts`, "1", v("tcp_timeouts"), {}, t);
      return true;
    }
    case "system": {
      b.counter("system.interrupts", "1", e.data.interrupts, {}, t);
      b.counter("system.context_switches", "1", e.data.context_switches, {}, t);
      return true;
    }
    case "kernel": {
      const records: KmsgRecord[] = Array.isArray(e.data) ? e.data : [e.data];
      for (const r of records) {
        if (r.sequence_num <= state.kernelLastSeq) continue;
        state.kernelLastSeq = r.sequence_num;
        state.kernelBySeverity.set(r.severity, (state.kernelBySeverity.get(r.severity) ?? 0n) + 1n);
      }
      for (const [sev, n] of state.kernelBySeverity) b.counter("system.kernel.messages", "1", n, { severity: `severity_${sev}` }, t);
      return true;
    }
    case "numa_stats": {
      if (!e.data.enabled) return true;
      for (const n of e.data.nodes) {
        const node = String(n.id);
        const at = (k: string, v: string) => ({ numa_node: node, [k]: v });
        b.gaugeInt("system.memory.numa.usage", "By", n.mem_free, at("type", "free"), t);
        b.gaugeInt("system.memory.numa.usage", "By", n.mem_used, at("type", "used"), t);
        b.gaugeInt("system.memory.numa.pages", "By", n.file_pages, at("type", "file"), t);
        b.gaugeInt("system.memory.numa.pages", "By", n.anon_pages, at("type", "anon"), t);
        b.counter("system.memory.numa.events", "1", n.numa_hit, at("type", "hit"), t);
        b.counter("system.memory.numa.events", "1", n.numa_miss, at("type", "miss"), t);
        b.counter("system.memory.numa.events", "1", n.numa_foreign, at("type", "foreign"), t);
        b.counter("system.memory.numa.events", "1", n.interleave_hit, at("type", "interleave_hit"), t);
        b.counter("system.memory.numa.locality", "1", n.local_node, at("type", "local_node"), t);
        b.counter("system.memory.numa.locality", "1", n.other_node, at("type", "other_node"), t);
      }
      return true;
    }
    default:
      return false;
  }
}
