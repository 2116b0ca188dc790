// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { Registry } from "prom-client";
import { registry as sharedRegistry } from "../metrics/registry.ts";
import type { HostPaths, MetricConsumer, MetricEvent, MetricType } from "./collector.ts";
import { auxvValues, getExtra } from "./collectors/common.ts";
import type { CPUStats } from "./collectors/cpu.ts";
import type { CgroupCPUStats } from "./collectors/cgroup-cpu.ts";
import type { CgroupMemoryStats } from "./collectors/cgroup-memory.ts";
import type { LoadStats } from "./collectors/load.ts";
import type { NetworkStats } from "./collectors/network.ts";
import type { NUMAStatistics } from "./collectors/numa.ts";
import type { ProcessStats } from "./collectors/process.ts";
import type { FilesystemStats } from "./collectors/filesystem.ts";
import type { DiskstatsRecord } from "./parsers/diskstats.ts";
import type { KmsgRecord } from "./parsers/kmsg.ts";

type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number };
type Kind = "counter" | "gauge" | "untyped";

/**
 * u64 counters reach the text format as float64: Number(bigint) rounds to the nearest double, and that
 * rounding is monotonic (a >= b implies Number(a) >= Number(b)), so a growing counter never appears to
 * go down and rate()/increase() stay correct. Above 2^53 the last digits are lost, exactly as they are
 * in Prometheus' own float64 storage; nothing downstream could keep them anyway.
 */
const n = (v: bigint | number | undefined): number => (v === undefined ? 0 : typeof v === "bigint" ? Number(v) : v);

/** node_exporter's default diskstats device exclusion. */
const DISK_EXCLUDE = /^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

/** node_exporter's default netstat field filter, plus the TCP counters the original agent reports. */
const NETSTAT_FIELDS =
  /^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPLostRetransmit|TCPFastRetrans|TCPSlowStartRetrans)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|AttemptFails|EstabResets|InCsumErrors)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$/;

/** node_exporter's default vmstat field filter. */
const VMSTAT_FIELDS = /^(oom_kill|pgpg|pswp|pg.*fault).*/;

/** A family whose data has an unexpected shape renders empty instead of failing the whole scrape. */
function safeSamples(f: Family): Sample[] {
  try {
    return f.samples();
  } catch {
    return [];
  }
}

interface Family {
  name: string;
  help: string;
  type: Kind;
  samples(): Sample[];
}

/**
 * Keeps the latest sample of each metric type and serves it on the shared prom-client registry with
 * node_exporter's metric names, labels and units where node_exporter has the same quantity (see
 * docs/metrics.md). Families are computed at scrape time from the latest data; nothing is kept per
 * series between scrapes, so vanished devices and processes disappear from the output.
 */
export class PrometheusExposition implements MetricConsumer {
  readonly name = "prometheus";
  private readonly latest = new Map<MetricType, unknown>();
  private readonly kmsgBySeverity = new Map<number, number>();
  private userHz: number;
  private pageSize: number;
  private readonly families: Family[] = [];

  constructor(opts: { registry?: Registry; userHz?: number; pageSize?: number } = {}) {
    this.userHz = opts.userHz ?? 100;
    this.pageSize = opts.pageSize ?? 4096;
    this.define();
    const reg = opts.registry ?? sharedRegistry;
    for (const f of this.families) {
      reg.registerMetric({
        name: f.name,
        help: f.help,
        type: f.type,
        get: async () => ({ name: f.name, help: f.help, type: f.type, values: safeSamples(f), aggregator: "sum" }),
        reset: () => undefined,
      } as never);
    }
  }

  /** USER_HZ and page size from <proc>/self/auxv (defaults 100 / 4096). */
  static async create(paths: HostPaths, opts: { registry?: Registry } = {}): Promise<PrometheusExposition> {
    const { hz, page } = await auxvValues(paths.proc);
    return new PrometheusExposition({ ...opts, userHz: hz, pageSize: page });
  }

  accept(event: MetricEvent): void {
    if (event.metricType === "kernel" && !Array.isArray(event.data)) {
      const sev = (event.data as KmsgRecord).severity;
      this.kmsgBySeverity.set(sev, (this.kmsgBySeverity.get(sev) ?? 0) + 1);
      return;
    }
    this.latest.set(event.metricType, event.data);
  }

  /** Names of every family served (for docs and tests). */
  familyNames(): string[] {
    return this.families.map((f) => f.name);
  }

  private get<T>(t: MetricType): T | undefined {
    return this.latest.get(t) as T | undefined;
  }

  private fam(name: string, type: Kind, help: string, samples: () => Sample[]): void {
    this.families.push({ name, type, help, samples });
  }

  private define(): void {
    const hz = () => this.userHz;
    // ---- cpu ----
    const cpuModes: [keyof CPUStats, string][] = [
      ["user", "user"],
      ["nice", "nice"],
      ["system", "system"],
      ["idle", "idle"],
      ["io_wait", "iowait"],
      ["irq", "irq"],
      ["soft_irq", "softirq"],
      ["steal", "steal"],
    ];
    const cpus = () => (this.get<CPUStats[]>("cpu") ?? []).filter((c) => c.cpu_index >= 0);
    this.fam("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", () =>
      cpus().flatMap((c) => cpuModes.map(([k, mode]) => ({ labels: { cpu: String(c.cpu_index), mode }, value: n(c[k] as bigint) / hz() }))),
    );
    this.fam("node_cpu_guest_seconds_total", "counter", "Seconds the CPUs spent in guests (VMs) for each mode.", () =>
      cpus().flatMap((c) => [
        { labels: { cpu: String(c.cpu_index), mode: "user" }, value: n(c.guest) / hz() },
        { labels: { cpu: String(c.cpu_index), mode: "nice" }, value: n(c.guest_nice) / hz() },
      ]),
    );
    // ---- load / system ----
    const load = () => this.get<LoadStats>("load");
    const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [{ labels: {}, value: v }]);
    this.fam("node_load1", "gauge", "1m load average.", () => one(load()?.load_1min));
    this.fam("node_load5", "gauge", "5m load average.", () => one(load()?.load_5min));
    this.fam("node_load15", "gauge", "15m load average.", () => one(load()?.load_15min));
    const sysx = () => getExtra(this.get("system"));
    const sys = () => this.get<{ interrupts: bigint; context_switches: bigint }>("system");
    this.fam("node_context_switches_total", "counter", "Total number of context switches.", () => one(sys() && n(sys()!.context_switches)));
    this.fam("node_intr_total", "counter", "Total number of interrupts serviced.", () => one(sys() && n(sys()!.interrupts)));
    this.fam("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", () => one(sysx()?.btime !== undefined ? n(sysx()!.btime as bigint) : undefined));
    this.fam("node_forks_total", "counter", "Total number of forks.", () => one(sysx() && n(sysx()!.processes as bigint)));
    this.fam("node_procs_running", "gauge", "Number of processes in runnable state.", () => one(sysx() ? (sysx()!.procsRunning as number) : load()?.running_procs));
    this.fam("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete.", () => one(sysx() ? (sysx()!.procsBlocked as number) : load()?.blocked_procs));
    this.fam("antimetal_load_total_procs", "gauge", "Scheduling entities (processes and threads) that exist (loadavg field 4).", () => one(load()?.total_procs));
    this.fam("antimetal_uptime_seconds", "gauge", "Seconds since boot (/proc/uptime).", () => one(load() && n(load()!.uptime) / 1e9));
    // ---- memory: every meminfo key, node_exporter naming ----
    for (const key of MEMINFO_KEYS) this.memFamily(key);
    for (const key of VMSTAT_KEYS) {
      this.fam(`node_vmstat_${key}`, "untyped", `/proc/vmstat information field ${key}.`, () => {
        const vm = getExtra(this.get("memory"))?.vmstat as Map<string, bigint> | undefined;
        const v = vm?.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    // ---- disk ----
    const disks = () => ((getExtra(this.get("disk"))?.records as DiskstatsRecord[] | undefined) ?? []).filter((d) => !DISK_EXCLUDE.test(d.device));
    const diskFam = (name: string, type: Kind, help: string, f: (d: DiskstatsRecord) => number) =>
      this.fam(name, type, help, () => disks().map((d) => ({ labels: { device: d.device }, value: f(d) })));
    diskFam("node_disk_reads_completed_total", "counter", "The total number of reads completed successfully.", (d) => n(d.readsCompleted));
    diskFam("node_disk_reads_merged_total", "counter", "The total number of reads merged.", (d) => n(d.readsMerged));
    diskFam("node_disk_read_bytes_total", "counter", "The total number of bytes read successfully.", (d) => n(d.sectorsRead) * 512);
    diskFam("node_disk_read_time_seconds_total", "counter", "The total number of seconds spent by all reads.", (d) => n(d.readTimeMs) / 1000);
    diskFam("node_disk_writes_completed_total", "counter", "The total number of writes completed successfully.", (d) => n(d.writesCompleted));
    diskFam("node_disk_writes_merged_total", "counter", "The number of writes merged.", (d) => n(d.writesMerged));
    diskFam("node_disk_written_bytes_total", "counter", "The total number of bytes written successfully.", (d) => n(d.sectorsWritten) * 512);
    diskFam("node_disk_write_time_seconds_total", "counter", "This is the total number of seconds spent by all writes.", (d) => n(d.writeTimeMs) / 1000);
    diskFam("node_disk_io_now", "gauge", "The number of I/Os currently in progress.", (d) => n(d.iosInProgress));
    diskFam("node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os.", (d) => n(d.ioTimeMs) / 1000);
    diskFam("node_disk_io_time_weighted_seconds_total", "counter", "The weighted # of seconds spent doing I/Os.", (d) => n(d.weightedIoTimeMs) / 1000);
    diskFam("node_disk_discards_completed_total", "counter", "The total number of discards completed successfully.", (d) => n(d.discardsCompleted));
    diskFam("node_disk_discards_merged_total", "counter", "The total number of discards merged.", (d) => n(d.discardsMerged));
    diskFam("node_disk_discarded_sectors_total", "counter", "The total number of sectors discarded successfully.", (d) => n(d.sectorsDiscarded));
    diskFam("node_disk_discard_time_seconds_total", "counter", "This is the total number of seconds spent by all discards.", (d) => n(d.discardTimeMs) / 1000);
    diskFam("node_disk_flush_requests_total", "counter", "The total number of flush requests completed successfully.", (d) => n(d.flushesCompleted));
    diskFam("node_disk_flush_requests_time_seconds_total", "counter", "This is the total number of seconds spent by all flush requests.", (d) => n(d.flushTimeMs) / 1000);
    // ---- network ----
    const nets = () => this.get<NetworkStats[]>("network") ?? [];
    const netFam = (name: string, key: keyof NetworkStats, help: string) =>
      this.fam(name, "counter", help, () => nets().map((i) => ({ labels: { device: i.interface }, value: n(i[key] as bigint) })));
    const pairs: [string, keyof NetworkStats][] = [
      ["receive_bytes", "rx_bytes"],
      ["receive_packets", "rx_packets"],
      ["receive_errs", "rx_errors"],
      ["receive_drop", "rx_dropped"],
      ["receive_fifo", "rx_fifo"],
      ["receive_frame", "rx_frame"],
      ["receive_compressed", "rx_compressed"],
      ["receive_multicast", "rx_multicast"],
      ["transmit_bytes", "tx_bytes"],
      ["transmit_packets", "tx_packets"],
      ["transmit_errs", "tx_errors"],
      ["transmit_drop", "tx_dropped"],
      ["transmit_fifo", "tx_fifo"],
      ["transmit_colls", "tx_collisions"],
      ["transmit_carrier", "tx_carrier"],
      ["transmit_compressed", "tx_compressed"],
    ];
    for (const [suffix, key] of pairs) netFam(`node_network_${suffix}_total`, key, `Network device statistic ${suffix}.`);
    this.fam("node_network_speed_bytes", "gauge", "Network device property: speed_bytes (Mbps x 125000).", () =>
      nets().filter((i) => i.speed > 0n).map((i) => ({ labels: { device: i.interface }, value: n(i.speed) * 125000 })),
    );
    this.fam("node_network_up", "gauge", 'Value is 1 if operstate is "up", 0 otherwise.', () => nets().map((i) => ({ labels: { device: i.interface }, value: i.oper_state === "up" ? 1 : 0 })));
    this.fam("node_network_carrier", "gauge", "Network device property: carrier.", () => nets().map((i) => ({ labels: { device: i.interface }, value: i.link_detected ? 1 : 0 })));
    // ---- tcp / netstat / sockstat ----
    const tcpx = () => getExtra(this.get("tcp"));
    for (const key of NETSTAT_KEYS) {
      this.fam(`node_netstat_${key}`, "untyped", `Statistic ${key.replace("_", "")}.`, () => {
        const x = tcpx();
        const v = (x?.snmp as Map<string, bigint> | undefined)?.get(key) ?? (x?.netstat as Map<string, bigint> | undefined)?.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    for (const key of SOCKSTAT_KEYS) {
      this.fam(`node_sockstat_${key}`, "gauge", `Number of ${key} sockets in state ${key.split("_").pop()}.`, () => {
        const v = (tcpx()?.sockstat as Map<string, bigint> | undefined)?.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    this.fam("node_sockstat_TCP_mem_bytes", "gauge", "Number of TCP sockets in state mem_bytes.", () => {
      const v = (tcpx()?.sockstat as Map<string, bigint> | undefined)?.get("TCP_mem");
      return v === undefined ? [] : [{ labels: {}, value: n(v) * this.pageSize }];
    });
    this.fam("node_tcp_connection_states", "gauge", "Number of connection states.", () => {
      const s = (this.get<{ connections_by_state?: Record<string, number> }>("tcp") ?? {}).connections_by_state;
      return s ? Object.entries(s).map(([k, v]) => ({ labels: { state: k.toLowerCase() }, value: v })) : [];
    });
    // ---- numa ----
    const numa = () => this.get<NUMAStatistics>("numa_stats")?.nodes ?? [];
    for (const k of ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"] as const) {
      this.fam(`node_memory_numa_${k}_total`, "counter", `Memory information field ${k}_total.`, () => numa().map((x) => ({ labels: { node: String(x.id) }, value: n(x[k]) })));
    }
    // ---- process (top N) ----
    const procs = () => this.get<ProcessStats[]>("process") ?? [];
    const pl = (p: ProcessStats) => ({ pid: String(p.pid), command: p.command });
    this.fam("antimetal_process_cpu_seconds_total", "counter", "CPU time (user + system) of the top-N processes by CPU.", () => procs().map((p) => ({ labels: pl(p), value: n(p.cpu_time) / hz() })));
    this.fam("antimetal_process_cpu_percent", "gauge", "CPU use of the top-N processes over the last interval (100 = one CPU).", () => procs().map((p) => ({ labels: pl(p), value: p.cpu_percent })));
    this.fam("antimetal_process_resident_memory_bytes", "gauge", "Resident memory of the top-N processes.", () => procs().map((p) => ({ labels: pl(p), value: n(p.memory_rss) })));
    this.fam("antimetal_process_open_fds", "gauge", "Open file descriptors of the top-N processes.", () => procs().map((p) => ({ labels: pl(p), value: p.num_fds })));
    // ---- cgroups ----
    const ccpu = () => this.get<CgroupCPUStats[]>("cgroup_cpu") ?? [];
    const cmem = () => this.get<CgroupMemoryStats[]>("cgroup_memory") ?? [];
    const cl = (c: { container_id: string; runtime: string }) => ({ container_id: c.container_id, runtime: c.runtime });
    this.fam("antimetal_container_cpu_usage_seconds_total", "counter", "Container CPU time.", () => ccpu().map((c) => ({ labels: cl(c), value: n(c.usage_nanos) / 1e9 })));
    this.fam("antimetal_container_cpu_cfs_periods_total", "counter", "Elapsed CFS enforcement periods.", () => ccpu().map((c) => ({ labels: cl(c), value: n(c.nr_periods) })));
    this.fam("antimetal_container_cpu_cfs_throttled_periods_total", "counter", "Throttled CFS periods.", () => ccpu().map((c) => ({ labels: cl(c), value: n(c.nr_throttled) })));
    this.fam("antimetal_container_cpu_cfs_throttled_seconds_total", "counter", "Time throttled.", () => ccpu().map((c) => ({ labels: cl(c), value: n(c.throttled_time) / 1e9 })));
    this.fam("antimetal_container_memory_usage_bytes", "gauge", "Container memory usage.", () => cmem().map((c) => ({ labels: cl(c), value: n(c.usage_bytes) })));
    this.fam("antimetal_container_memory_limit_bytes", "gauge", "Container memory limit (absent when unlimited).", () =>
      cmem().filter((c) => c.limit_bytes < 2n ** 62n).map((c) => ({ labels: cl(c), value: n(c.limit_bytes) })),
    );
    this.fam("antimetal_container_memory_rss_bytes", "gauge", "Container anonymous (RSS) memory.", () => cmem().map((c) => ({ labels: cl(c), value: n(c.rss) })));
    this.fam("antimetal_container_memory_cache_bytes", "gauge", "Container page cache.", () => cmem().map((c) => ({ labels: cl(c), value: n(c.cache) })));
    this.fam("antimetal_container_oom_kills_total", "counter", "OOM kills in the container.", () => cmem().map((c) => ({ labels: cl(c), value: n(c.oom_kill_count) })));
    // ---- filesystem ----
    const fss = () => this.get<FilesystemStats[]>("filesystem") ?? [];
    const fl = (f: FilesystemStats) => ({ device: f.device, fstype: f.fs_type, mountpoint: f.mount_point });
    const fsFam = (name: string, help: string, v: (f: FilesystemStats) => number) => this.fam(name, "gauge", help, () => fss().map((f) => ({ labels: fl(f), value: v(f) })));
    fsFam("node_filesystem_size_bytes", "Filesystem size in bytes.", (f) => n(f.size_bytes));
    fsFam("node_filesystem_free_bytes", "Filesystem free space in bytes.", (f) => n(f.free_bytes));
    fsFam("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", (f) => n(f.avail_bytes));
    fsFam("node_filesystem_files", "Filesystem total file nodes.", (f) => n(f.files));
    fsFam("node_filesystem_files_free", "Filesystem total free file nodes.", (f) => n(f.files_free));
    fsFam("node_filesystem_readonly", "Filesystem read-only status.", (f) => (f.read_only ? 1 : 0));
    fsFam("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", (f) => (f.device_error ? 1 : 0));
    // ---- kernel ----
    this.fam("antimetal_kernel_messages_total", "counter", "Kernel log (/dev/kmsg) records seen in follow mode, by severity (0 emerg .. 7 debug).", () =>
      [...this.kmsgBySeverity].map(([s, v]) => ({ labels: { severity: String(s) }, value: v })),
    );
  }

  private memFamily(key: string): void {
    const clean = key.replace(/\(/g, "_").replace(/\)/g, "");
    const kb = !key.startsWith("HugePages_");
    const name = kb ? `node_memory_${clean}_bytes` : `node_memory_${clean}`;
    this.fam(name, "gauge", `Memory information field ${clean}${kb ? "_bytes" : ""}.`, () => {
      const x = getExtra(this.get("memory"));
      const v = (x?.meminfo as Map<string, bigint> | undefined)?.get(key);
      if (v === undefined) return [];
      const isKb = (x?.kb as Set<string> | undefined)?.has(key) ?? kb;
      return [{ labels: {}, value: isKb ? n(v) * 1024 : n(v) }];
    });
  }
}

/** meminfo keys a current kernel prints (node_exporter exports each one present). */
export const MEMINFO_KEYS = [
  "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive", "Active(anon)", "Inactive(anon)",
  "Active(file)", "Inactive(file)", "Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Zswap", "Zswapped", "Dirty", "Writeback",
  "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim", "KernelStack", "ShadowCallStack", "PageTables",
  "SecPageTables", "NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk",
  "Percpu", "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped", "CmaTotal", "CmaFree",
  "Unaccepted", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "Hugepagesize", "Hugetlb", "DirectMap4k",
  "DirectMap2M", "DirectMap1G",
];

export const VMSTAT_KEYS = ["oom_kill", "pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault"];
void VMSTAT_FIELDS;

export const NETSTAT_KEYS = [
  "Ip_Forwarding", "IpExt_InOctets", "IpExt_OutOctets", "Ip6_InOctets", "Ip6_OutOctets", "Icmp_InErrors", "Icmp_InMsgs", "Icmp_OutMsgs",
  "Icmp6_InErrors", "Icmp6_InMsgs", "Icmp6_OutMsgs", "Tcp_ActiveOpens", "Tcp_PassiveOpens", "Tcp_AttemptFails", "Tcp_EstabResets",
  "Tcp_CurrEstab", "Tcp_InSegs", "Tcp_OutSegs", "Tcp_RetransSegs", "Tcp_InErrs", "Tcp_OutRsts", "Tcp_InCsumErrors", "TcpExt_ListenOverflows",
  "TcpExt_ListenDrops", "TcpExt_SyncookiesSent", "TcpExt_SyncookiesRecv", "TcpExt_SyncookiesFailed", "TcpExt_TCPSynRetrans",
  "TcpExt_TCPTimeouts", "TcpExt_TCPOFOQueue", "TcpExt_TCPLostRetransmit", "TcpExt_TCPFastRetrans", "TcpExt_TCPSlowStartRetrans",
  "Udp_InDatagrams", "Udp_OutDatagrams", "Udp_NoPorts", "Udp_InErrors", "Udp_RcvbufErrors", "Udp_SndbufErrors", "Udp6_InDatagrams",
  "Udp6_OutDatagrams", "Udp6_NoPorts", "Udp6_InErrors", "Udp6_RcvbufErrors", "Udp6_SndbufErrors", "UdpLite_InErrors", "UdpLite6_InErrors",
].filter((k) => NETSTAT_FIELDS.test(k));

export const SOCKSTAT_KEYS = [
  "sockets_used", "TCP_inuse", "TCP_orphan", "TCP_tw", "TCP_alloc", "TCP_mem", "UDP_inuse", "UDP_mem", "UDPLITE_inuse", "RAW_inuse",
  "FRAG_inuse", "FRAG_memory", "TCP6_inuse", "UDP6_inuse", "UDPLITE6_inuse", "RAW6_inuse", "FRAG6_inuse", "FRAG6_memory",
];
