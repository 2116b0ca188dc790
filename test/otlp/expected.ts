// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What the OTLP consumer must send for a `collect` JSON document, written out from the metric catalogue
// (instrument name, kind, unit, attributes, value) independently of src/consumers, for the tests to
// compare against what an OpenTelemetry Collector received.

export interface Expected {
  name: string;
  kind: "gauge" | "sum";
  unit: string;
  attrs: Record<string, string>;
  /** Exact decimal string for integers, a number for doubles. */
  value: string | number;
}

/** Parses `collect --format json` keeping integers past 2^53 exact (as decimal strings). */
export function parseCollect(text: string): Record<string, any> {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

const I = (v: unknown) => BigInt(v as string | number).toString();

export function expectedFor(c: Record<string, any>): Expected[] {
  const out: Expected[] = [];
  const g = (name: string, unit: string, value: unknown, attrs: Record<string, string> = {}) =>
    out.push({ name, kind: "gauge", unit, attrs, value: typeof value === "number" && !Number.isInteger(value) ? value : I(value) });
  const gd = (name: string, unit: string, value: number, attrs: Record<string, string> = {}) =>
    out.push({ name, kind: "gauge", unit, attrs, value });
  const s = (name: string, unit: string, value: unknown, attrs: Record<string, string> = {}) =>
    out.push({ name, kind: "sum", unit, attrs, value: I(value) });

  const l = c.load;
  gd("system.cpu.load_average.1m", "1", l.load_1min);
  gd("system.cpu.load_average.5m", "1", l.load_5min);
  gd("system.cpu.load_average.15m", "1", l.load_15min);
  g("system.processes.count", "1", l.running_procs, { state: "running" });
  gd("system.uptime", "s", Number(l.uptime) / 1e9);

  const m = c.memory;
  const b = (k: string) => BigInt(m[k]);
  g("system.memory.usage", "By", m.mem_free, { state: "free" });
  g("system.memory.usage", "By", b("mem_total") - b("mem_available"), { state: "used" });
  g("system.memory.usage", "By", m.mem_available, { state: "available" });
  g("system.memory.usage", "By", m.buffers, { state: "buffers" });
  g("system.memory.usage", "By", m.cached, { state: "cached" });
  if (b("swap_total") > 0n) {
    // both states, each its own value (the original reports only `used`, holding the last one)
    g("system.memory.swap_usage", "By", m.swap_free, { state: "free" });
    g("system.memory.swap_usage", "By", b("swap_total") - b("swap_free"), { state: "used" });
  }
  for (const [n, f] of [
    ["swap.cached", "swap_cached"],
    ["active", "active"],
    ["inactive", "inactive"],
    ["dirty", "dirty"],
    ["writeback", "writeback"],
    ["anon_pages", "anon_pages"],
    ["mapped", "mapped"],
    ["shmem", "shmem"],
    ["kernel_stack", "kernel_stack"],
    ["page_tables", "page_tables"],
  ])
    g(`system.memory.${n}`, "By", m[f!]);
  g("system.memory.slab", "By", m.s_reclaimable, { type: "reclaimable" });
  g("system.memory.slab", "By", m.s_unreclaim, { type: "unreclaimable" });
  g("system.memory.commit", "By", m.commit_limit, { type: "limit" });
  g("system.memory.commit", "By", m.committed_as, { type: "committed_as" });
  g("system.memory.vmalloc", "By", m.vmalloc_total, { type: "total" });
  g("system.memory.vmalloc", "By", m.vmalloc_used, { type: "used" });
  if (b("hugepages_total") > 0n) {
    const size = b("hugepage_size");
    g("system.memory.huge_pages", "1", b("hugepages_total") / size, { state: "total" });
    g("system.memory.huge_pages", "1", b("hugepages_free") / size, { state: "free" });
    g("system.memory.huge_pages", "1", b("hugepages_rsvd") / size, { state: "reserved" });
    g("system.memory.huge_pages", "1", b("hugepages_surp") / size, { state: "surplus" });
    g("system.memory.huge_pages.bytes", "By", m.hugetlb);
  }
  s("system.memory.swap.io", "1", m.swap_in, { direction: "in" });
  s("system.memory.swap.io", "1", m.swap_out, { direction: "out" });

  for (const cpu of c.cpu) {
    const keys = ["user", "nice", "system", "idle", "io_wait", "irq", "soft_irq", "steal", "guest", "guest_nice"];
    const total = keys.reduce((acc, k) => acc + Number(cpu[k]), 0);
    for (const [state, k] of [
      ["user", "user"],
      ["system", "system"],
      ["idle", "idle"],
      ["iowait", "io_wait"],
      ["steal", "steal"],
    ])
      gd("system.cpu.utilization", "1", Number(cpu[k!]) / total, { cpu: String(cpu.cpu_index), state: state! });
  }

  for (const d of c.disk) {
    const dir = (direction: string) => ({ device: d.device, direction });
    s("system.disk.operations", "1", d.reads_completed, dir("read"));
    s("system.disk.operations", "1", d.writes_completed, dir("write"));
    s("system.disk.io", "By", BigInt(d.sectors_read) * 512n, dir("read"));
    s("system.disk.io", "By", BigInt(d.sectors_written) * 512n, dir("write"));
    g("system.disk.io.in_progress", "1", d.i_os_in_progress, { device: d.device });
    s("system.disk.operations.merged", "1", d.reads_merged, dir("read"));
    s("system.disk.operations.merged", "1", d.writes_merged, dir("write"));
    s("system.disk.io.time", "ms", d.read_time, dir("read"));
    s("system.disk.io.time", "ms", d.write_time, dir("write"));
    s("system.disk.io.active_time", "ms", d.io_time, { device: d.device });
    s("system.disk.io.weighted_time", "ms", d.weighted_io_time, { device: d.device });
  }

  for (const n of c.network) {
    const rx = { device: n.interface, direction: "receive" };
    const tx = { device: n.interface, direction: "transmit" };
    for (const [metric, r, t] of [
      ["io", "rx_bytes", "tx_bytes"],
      ["packets", "rx_packets", "tx_packets"],
      ["errors", "rx_errors", "tx_errors"],
      ["dropped", "rx_dropped", "tx_dropped"],
    ]) {
      s(`system.network.${metric}`, metric === "io" ? "By" : "1", n[r!], rx);
      s(`system.network.${metric}`, metric === "io" ? "By" : "1", n[t!], tx);
    }
    g("system.network.interface.speed", "Mbit/s", n.speed, { device: n.interface });
    g("system.network.interface.up", "1", n.oper_state === "up" ? 1 : 0, { device: n.interface });
    g("system.network.interface.carrier", "1", n.link_detected ? 1 : 0, { device: n.interface });
  }

  const t = c.tcp;
  for (const [state, n] of Object.entries(t.connections_by_state)) g("system.network.connections", "1", n, { protocol: "tcp", state });
  g("system.network.tcp.connection.established", "1", t.curr_estab);
  const p = "system.network.tcp";
  s(`${p}.connection.opens`, "1", t.active_opens, { type: "active" });
  s(`${p}.connection.opens`, "1", t.passive_opens, { type: "passive" });
  s(`${p}.connection.attempt_fails`, "1", t.attempt_fails);
  s(`${p}.connection.estab_resets`, "1", t.estab_resets);
  s(`${p}.segments`, "1", t.in_segs, { direction: "in" });
  s(`${p}.segments`, "1", t.out_segs, { direction: "out" });
  s(`${p}.retrans_segs`, "1", t.retrans_segs);
  s(`${p}.errors`, "1", t.in_errs, { type: "in_errors" });
  s(`${p}.errors`, "1", t.out_rsts, { type: "out_resets" });
  s(`${p}.errors`, "1", t.in_csum_errors, { type: "checksum_errors" });
  s(`${p}.syncookies`, "1", t.syncookies_sent, { result: "sent" });
  s(`${p}.syncookies`, "1", t.syncookies_recv, { result: "received" });
  s(`${p}.syncookies`, "1", t.syncookies_failed, { result: "failed" });
  s(`${p}.listen_issues`, "1", t.listen_overflows, { type: "overflows" });
  s(`${p}.listen_issues`, "1", t.listen_drops, { type: "drops" });
  s(`${p}.retrans_detail`, "1", t.tcp_lost_retransmit, { type: "lost" });
  s(`${p}.retrans_detail`, "1", t.tcp_fast_retrans, { type: "fast" });
  s(`${p}.retrans_detail`, "1", t.tcp_slow_start_retrans, { type: "slow_start" });
  s(`${p}.timeouts`, "1", t.tcp_timeouts);

  if (c.process) {
    g("system.processes.count", "1", c.process.length);
    g(
      "system.memory.usage",
      "By",
      c.process.reduce((acc: bigint, p: Record<string, unknown>) => acc + BigInt(p.memory_rss as string), 0n),
      { state: "processes" },
    );
  }

  for (const n of c.numa_stats?.enabled ? c.numa_stats.nodes : []) {
    const at = (type: string) => ({ numa_node: String(n.id), type });
    g("system.memory.numa.usage", "By", n.mem_free, at("free"));
    g("system.memory.numa.usage", "By", n.mem_used, at("used"));
    g("system.memory.numa.pages", "By", n.file_pages, at("file"));
    g("system.memory.numa.pages", "By", n.anon_pages, at("anon"));
    for (const [type, f] of [
      ["hit", "numa_hit"],
      ["miss", "numa_miss"],
      ["foreign", "numa_foreign"],
      ["interleave_hit", "interleave_hit"],
    ])
      s("system.memory.numa.events", "1", n[f!], at(type!));
    s("system.memory.numa.locality", "1", n.local_node, at("local_node"));
    s("system.memory.numa.locality", "1", n.other_node, at("other_node"));
  }

  s("system.interrupts", "1", c.system.interrupts);
  s("system.context_switches", "1", c.system.context_switches);
  return out;
}
