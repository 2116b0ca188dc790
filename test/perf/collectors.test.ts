// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of every point collector over fixture procfs/sysfs trees: the original's acceptance cases for
// values, errors and deltas, plus cgroups and the filesystem collector.
// Over 400 lines: every collector against the same fixture trees, one describe block per collector.

import { afterAll, describe, expect, test } from "bun:test";
import { createLogger } from "../../src/log/logger.ts";
import { registry as shared } from "../../src/metrics/registry.ts";
import { CgroupCPUCollector } from "../../src/perf/collectors/cgroup-cpu.ts";
import { detectCgroupVersion, discoverContainers } from "../../src/perf/collectors/cgroup-discovery.ts";
import { CgroupMemoryCollector } from "../../src/perf/collectors/cgroup-memory.ts";
import { CPUCollector } from "../../src/perf/collectors/cpu.ts";
import { DiskCollector } from "../../src/perf/collectors/disk.ts";
import { CPUInfoCollector, DiskInfoCollector, MemoryInfoCollector, NetworkInfoCollector } from "../../src/perf/collectors/info.ts";
import { LoadCollector } from "../../src/perf/collectors/load.ts";
import { MemoryCollector } from "../../src/perf/collectors/memory.ts";
import { NetworkCollector } from "../../src/perf/collectors/network.ts";
import { NUMAStatsCollector } from "../../src/perf/collectors/numa.ts";
import { ProcessCollector } from "../../src/perf/collectors/process.ts";
import { SystemStatsCollector } from "../../src/perf/collectors/system.ts";
import { TCPCollector } from "../../src/perf/collectors/tcp.ts";
import { HostIo } from "../../src/perf/io.ts";
import { cleanupTrees, makeTree, pathsFor, sample, sig } from "./tree.ts";

afterAll(cleanupTrees);

const STAT = `cpu  1234 56 789 10000 200 30 40 50 60 70
cpu0 600 30 400 5000 100 15 20 25 30 35
cpu1 634 26 389 5000 100 15 20 25 30 35
intr 123456789 1234 5678
ctxt 987654321
btime 1640995200
processes 5000
procs_running 2
procs_blocked 7
`;

describe("load (acceptance 6, 7)", () => {
  test("loadavg + uptime + procs_blocked", async () => {
    const root = makeTree({ "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n", "proc/uptime": "1234.56 5678.90\n", "proc/stat": STAT });
    expect(await new LoadCollector(pathsFor(root)).collect(sig())).toEqual({
      load_1min: 0.5,
      load_5min: 1.25,
      load_15min: 2.75,
      running_procs: 2,
      total_procs: 1234,
      blocked_procs: 7,
      last_pid: 12345,
      uptime: 1234560000000n,
    });
  });
  test("errors and optional files", async () => {
    const c = (files: Record<string, string>) => new LoadCollector(pathsFor(makeTree(files))).collect(sig());
    await expect(c({ "proc/loadavg": "0.50 1.25" })).rejects.toThrow("got 2 fields, expected 5");
    await expect(c({ "proc/loadavg": "invalid 1.25 2.75 2/1234 12345" })).rejects.toThrow("invalid syntax");
    await expect(c({ "proc/loadavg": "0.50 1.25 2.75 invalid_procs 12345" })).rejects.toThrow("unexpected process count format");
    await expect(c({ "proc/loadavg": "  \n " })).rejects.toThrow("got 0 fields, expected 5");
    await expect(c({ "proc/uptime": "1 2" })).rejects.toThrow("no such file or directory");
    const noUptime = await c({ "proc/loadavg": "0.50 1.25 2.75 2/1234 12345" });
    expect(noUptime.uptime).toBe(0n);
    expect(noUptime.blocked_procs).toBe(0);
    const statDir = makeTree({ "proc/loadavg": "1 1 1 1/1 1", "proc/stat/x": "" });
    expect((await new LoadCollector(pathsFor(statDir)).collect(sig())).blocked_procs).toBe(0);
  });
  test("constructor validates paths without touching the filesystem", () => {
    expect(() => new LoadCollector({ ...pathsFor("/x"), proc: "proc" })).toThrow('HostProcPath must be an absolute path, got: "proc"');
    expect(() => new LoadCollector({ ...pathsFor("/x"), proc: "" })).toThrow("HostProcPath is required but not provided");
    expect(() => new LoadCollector(pathsFor("/does/not/exist"))).not.toThrow();
  });
});

describe("cpu (acceptance 9, 10) and deltas", () => {
  test("basic stats", async () => {
    const out = await new CPUCollector(pathsFor(makeTree({ "proc/stat": STAT }))).collect(sig());
    expect(out.length).toBe(3);
    expect(out[0]).toEqual({
      cpu_index: -1,
      user: 1234n,
      nice: 56n,
      system: 789n,
      idle: 10000n,
      io_wait: 200n,
      irq: 30n,
      soft_irq: 40n,
      steal: 50n,
      guest: 60n,
      guest_nice: 70n,
    });
    expect(out[1]!.cpu_index).toBe(0);
    expect(out[2]!.user).toBe(634n);
    expect(out[0]!.delta).toBeUndefined();
  });
  test("errors", async () => {
    for (const text of ["", "intr 1\nctxt 2\n", "cpu invalid data here\n"]) {
      await expect(new CPUCollector(pathsFor(makeTree({ "proc/stat": text }))).collect(sig())).rejects.toThrow(
        "no CPU statistics found in",
      );
    }
    expect(() => new CPUCollector({ ...pathsFor("/x"), proc: "proc" })).toThrow("HostProcPath must be an absolute path");
  });
  test("delta progression: percentages, small-interval keeps baseline, reset", async () => {
    const fs = await import("node:fs");
    const root = makeTree({ "proc/stat": "cpu 100 0 100 800 0 0 0 0 0 0\n" });
    let now = 10_000;
    const c = new CPUCollector(pathsFor(root), { now: () => now });
    await c.collect(sig());
    fs.writeFileSync(`${root}/proc/stat`, "cpu 150 0 150 900 0 0 0 0 0 0\n");
    now += 50; // below the 100 ms minimum: no delta, baseline kept
    expect((await c.collect(sig()))[0]!.delta).toBeUndefined();
    now += 950;
    const d = (await c.collect(sig()))[0]!.delta!;
    expect([d.user, d.system, d.idle]).toEqual([50n, 50n, 100n]);
    expect([d.user_percent, d.system_percent, d.idle_percent]).toEqual([25, 25, 50]);
    expect(d.collection_interval).toBe(1_000_000_000);
    expect(d.counter_reset_detected).toBe(false);
    fs.writeFileSync(`${root}/proc/stat`, "cpu 10 0 150 1000 0 0 0 0 0 0\n");
    now += 1000;
    const r = (await c.collect(sig()))[0]!.delta!;
    expect(r.counter_reset_detected).toBe(true);
    expect(r.user).toBe(0n);
    expect(r.user_percent).toBeUndefined();
  });
  test("fix: guest time is not counted twice in the percentage denominator", async () => {
    const fs = await import("node:fs");
    const root = makeTree({ "proc/stat": "cpu 0 0 0 0 0 0 0 0 0 0\n" });
    let now = 0;
    const c = new CPUCollector(pathsFor(root), { now: () => now });
    await c.collect(sig());
    fs.writeFileSync(`${root}/proc/stat`, "cpu 100 0 0 100 0 0 0 0 100 0\n");
    now = 1000;
    const d = (await c.collect(sig()))[0]!.delta!;
    expect(d.user_percent! + d.idle_percent!).toBe(100);
    expect(d.guest_percent).toBe(50);
  });
});

describe("memory (acceptance 11, 12, 13)", () => {
  const mem = async (meminfo: string, vmstat?: string) => {
    const files: Record<string, string> = { "proc/meminfo": meminfo };
    if (vmstat !== undefined) files["proc/vmstat"] = vmstat;
    return new MemoryCollector(pathsFor(makeTree(files))).collect(sig());
  };
  test("complete meminfo in bytes", async () => {
    const m = await mem(sample("meminfo"));
    expect(m.mem_total).toBe(8388608000n);
    expect(m.vmalloc_total).toBe(34359738367n * 1024n);
    expect(m.hugepage_size).toBe(2097152n);
    expect(m.hugepages_total).toBe(0n);
    expect(m.committed_as).toBe(4096000n * 1024n);
  });
  test("huge pages", async () => {
    const m = await mem(
      "HugePages_Total:    1024\nHugePages_Free:      512\nHugePages_Rsvd:      256\nHugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:         2097152 kB\n",
    );
    expect([m.hugepages_total, m.hugepages_free, m.hugepages_rsvd, m.hugepages_surp, m.hugetlb]).toEqual([
      2147483648n,
      1073741824n,
      536870912n,
      0n,
      2147483648n,
    ]);
  });
  test("quirks", async () => {
    expect((await mem("MemTotal: 18446744073709551615 kB\n")).mem_total).toBe(18446744073709550592n);
    expect((await mem("MemTotal: 18446744073709551616 kB\n")).mem_total).toBe(0n);
    expect((await mem("MemTotal: 8192000 MB\n")).mem_total).toBe(8388608000n);
    expect((await mem("MemTotal 8192000 kB\n")).mem_total).toBe(8388608000n);
    const mixed = await mem("MemTotal: invalid_value kB\nMemFree: 1 kB\n");
    expect([mixed.mem_total, mixed.mem_free]).toEqual([0n, 1024n]);
    expect((await mem("")).mem_total).toBe(0n);
    await expect(new MemoryCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("failed to open");
  });
  test("vmstat swap counters stay in pages", async () => {
    const m = await mem("MemTotal: 1 kB\n", "pswpin 1234567\npswpout 2345678\n");
    expect([m.swap_in, m.swap_out]).toEqual([1234567n, 2345678n]);
    expect((await mem("MemTotal: 1 kB\n", "pswpin\t18446744073709551615\n")).swap_in).toBe(18446744073709551615n);
    expect((await mem("MemTotal: 1 kB\n")).swap_in).toBe(0n);
  });
});

describe("system (acceptance 16)", () => {
  test("values and errors", async () => {
    expect(await new SystemStatsCollector(pathsFor(makeTree({ "proc/stat": STAT }))).collect(sig())).toEqual({
      interrupts: 123456789n,
      context_switches: 987654321n,
    });
    expect(await new SystemStatsCollector(pathsFor(makeTree({ "proc/stat": "" }))).collect(sig())).toEqual({
      interrupts: 0n,
      context_switches: 0n,
    });
    await expect(new SystemStatsCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("stat");
    await expect(new SystemStatsCollector(pathsFor(makeTree({ "proc/stat/x": "" }))).collect(sig())).rejects.toThrow();
  });
  test("rates over an injected interval; concurrent collections agree", async () => {
    const fs = await import("node:fs");
    const root = makeTree({ "proc/stat": "intr 1000\nctxt 2000\n" });
    let now = 0;
    const c = new SystemStatsCollector(pathsFor(root), { now: () => now });
    await c.collect(sig());
    fs.writeFileSync(`${root}/proc/stat`, "intr 3000\nctxt 2500\n");
    now = 2000;
    const d = (await c.collect(sig())).delta!;
    expect([d.interrupts, d.interrupts_per_sec, d.context_switches_per_sec]).toEqual([2000n, 1000, 250]);
    const many = await Promise.all(Array.from({ length: 10 }, () => new SystemStatsCollector(pathsFor(root)).collect(sig())));
    expect(new Set(many.map((m) => m.interrupts)).size).toBe(1);
  });
  test("an aborted signal rejects", async () => {
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await expect(new SystemStatsCollector(pathsFor(makeTree({ "proc/stat": STAT }))).collect(ac.signal)).rejects.toThrow("stop");
  });
});

describe("disk (acceptance 17)", () => {
  test("whole disks with exact sda; per-device rates (pattern b)", async () => {
    const fs = await import("node:fs");
    const root = makeTree({ "proc/diskstats": sample("diskstats") });
    let now = 0;
    const c = new DiskCollector(pathsFor(root), { now: () => now });
    const out = await c.collect(sig());
    expect(out.map((d) => d.device)).toEqual(["sda", "sdb", "nvme0n1", "mmcblk0", "loop0", "dm-0"]);
    expect(out[0]).toEqual({
      device: "sda",
      major: 8,
      minor: 0,
      reads_completed: 1234n,
      reads_merged: 567n,
      sectors_read: 890123n,
      read_time: 4567n,
      writes_completed: 890n,
      writes_merged: 123n,
      sectors_written: 456789n,
      write_time: 1234n,
      i_os_in_progress: 0n,
      io_time: 5678n,
      weighted_io_time: 9012n,
    });
    fs.writeFileSync(`${root}/proc/diskstats`, "8 0 sda 1334 567 890323 4667 990 123 456989 1334 0 6178 10012\n");
    now = 1000;
    const d = (await c.collect(sig()))[0]!.delta!;
    expect([d.reads_per_sec, d.writes_per_sec, d.iops, d.read_bytes_per_sec, d.write_bytes_per_sec]).toEqual([
      100, 100, 200, 102400, 102400,
    ]);
    expect([d.utilization, d.avg_queue_size, d.avg_read_latency, d.avg_write_latency]).toEqual([50, 1, 1, 1]);
  });
  test("missing file, empty file", async () => {
    await expect(new DiskCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("failed to open");
    expect(await new DiskCollector(pathsFor(makeTree({ "proc/diskstats": "" }))).collect(sig())).toEqual([]);
  });
});

describe("network (acceptance 18)", () => {
  test("net/dev + sysfs properties", async () => {
    const root = makeTree({
      "proc/net/dev": sample("net_dev"),
      "sys/class/net/eth0/speed": "1000\n",
      "sys/class/net/eth0/duplex": "full\n",
      "sys/class/net/eth0/operstate": "up\n",
      "sys/class/net/eth0/carrier": "1\n",
      "sys/class/net/wlan0/speed": "100\n",
      "sys/class/net/wlan0/duplex": "half\n",
      "sys/class/net/wlan0/operstate": "down\n",
      "sys/class/net/wlan0/carrier": "0\n",
      "sys/class/net/lo/speed": "-1\n",
    });
    const out = await new NetworkCollector(pathsFor(root)).collect(sig());
    expect(out.map((i) => i.interface)).toEqual(["lo", "eth0", "wlan0"]);
    const e = out[1]!;
    expect([e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped, e.rx_frame, e.rx_multicast]).toEqual([
      9876543210n,
      654321n,
      10n,
      5n,
      2n,
      100n,
    ]);
    expect([e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped, e.tx_collisions, e.tx_carrier]).toEqual([
      8765432109n,
      543210n,
      20n,
      10n,
      5n,
      3n,
    ]);
    expect([e.speed, e.duplex, e.oper_state, e.link_detected]).toEqual([1000n, "full", "up", true]);
    expect([out[2]!.speed, out[2]!.duplex, out[2]!.oper_state, out[2]!.link_detected]).toEqual([100n, "half", "down", false]);
    expect([out[0]!.speed, out[0]!.duplex]).toEqual([0n, ""]);
  });
  test("errors", async () => {
    await expect(new NetworkCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("net/dev");
    const head = sample("net_dev").split("\n").slice(0, 2).join("\n") + "\n";
    expect(await new NetworkCollector(pathsFor(makeTree({ "proc/net/dev": head + "eth0: 1000 100\n" }))).collect(sig())).toEqual([]);
    expect(() => new NetworkCollector({ ...pathsFor("/x"), sys: "" })).toThrow("HostSysPath is required");
  });
  test("an unparseable counter is reported as 0, counted by collector and file, and warned once", async () => {
    const head = sample("net_dev").split("\n").slice(0, 2).join("\n") + "\n";
    const root = makeTree({ "proc/net/dev": head + "bad0: x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n" });
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (s: string) => void lines.push(s) } as unknown as NodeJS.WritableStream });
    const c = new NetworkCollector(pathsFor(root), { logger });
    const out = await c.collect(sig());
    expect([out[0]!.interface, out[0]!.rx_bytes, out[0]!.rx_packets]).toEqual(["bad0", 0n, 2n]);
    await c.collect(sig());
    expect(await shared.metrics()).toMatch(/^antimetal_collector_malformed_values_total\{collector="network",file="net\/dev"\} [2-9]/m);
    expect(lines.filter((l) => l.includes("unparseable numbers")).length).toBe(1);
  });
});

describe("tcp (acceptance 14, 15)", () => {
  test("snmp + netstat + states from tcp and tcp6", async () => {
    const root = makeTree({
      "proc/net/snmp": sample("snmp"),
      "proc/net/netstat": sample("netstat"),
      "proc/net/tcp": sample("tcp"),
      "proc/net/tcp6": sample("tcp6"),
    });
    const t = await new TCPCollector(pathsFor(root)).collect(sig());
    expect(t).toMatchObject({
      active_opens: 100n,
      passive_opens: 200n,
      attempt_fails: 10n,
      estab_resets: 5n,
      curr_estab: 8n,
      in_segs: 50000n,
      out_segs: 40000n,
      retrans_segs: 500n,
      in_errs: 2n,
      out_rsts: 15n,
      in_csum_errors: 3n,
    });
    expect(t).toMatchObject({
      syncookies_sent: 10n,
      syncookies_recv: 5n,
      syncookies_failed: 2n,
      listen_overflows: 20n,
      listen_drops: 15n,
      tcp_lost_retransmit: 25n,
      tcp_fast_retrans: 30n,
      tcp_slow_start_retrans: 35n,
      tcp_timeouts: 40n,
    });
    expect(t.connections_by_state).toEqual({
      ESTABLISHED: 3,
      SYN_SENT: 0,
      SYN_RECV: 0,
      FIN_WAIT1: 0,
      FIN_WAIT2: 0,
      TIME_WAIT: 1,
      CLOSE: 0,
      CLOSE_WAIT: 0,
      LAST_ACK: 0,
      LISTEN: 2,
      CLOSING: 0,
    });
  });
  test("errors and edges", async () => {
    const tcp = (files: Record<string, string>) => new TCPCollector(pathsFor(makeTree(files))).collect(sig());
    await expect(tcp({})).rejects.toThrow("failed to parse SNMP stats");
    await expect(tcp({ "proc/net/snmp": "Tcp: A B C D E\nTcp: 1 2 3 4 5 6 7 8 9\n" })).rejects.toThrow("header/value length mismatch");
    await expect(tcp({ "proc/net/snmp": "" })).rejects.toThrow("TCP statistics not found");
    await expect(tcp({ "proc/net/snmp": "Ip: A\nIp: 1\n" })).rejects.toThrow("TCP statistics not found");
    const abc = await tcp({ "proc/net/snmp": "Tcp: ActiveOpens PassiveOpens\nTcp: ABC 200\n" });
    expect([abc.active_opens, abc.passive_opens]).toEqual([0n, 200n]);
    expect((await tcp({ "proc/net/snmp": "Tcp: ActiveOpens\nTcp: 18446744073709551615\n" })).active_opens).toBe(18446744073709551615n);
    const noExt = await tcp({ "proc/net/snmp": sample("snmp"), "proc/net/netstat": "TcpExt: Field1 Field2\nTcpExt: NotANumber 456\n" });
    expect(noExt.listen_drops).toBe(0n);
    expect(noExt.connections_by_state!.LISTEN).toBe(0);
  });
  test("delta: counters get rates, CurrEstab does not", async () => {
    const fs = await import("node:fs");
    const root = makeTree({ "proc/net/snmp": "Tcp: ActiveOpens CurrEstab\nTcp: 100 5\n" });
    let now = 0;
    const c = new TCPCollector(pathsFor(root), { now: () => now });
    await c.collect(sig());
    fs.writeFileSync(`${root}/proc/net/snmp`, "Tcp: ActiveOpens CurrEstab\nTcp: 300 9\n");
    now = 2000;
    const d = (await c.collect(sig())).delta!;
    expect([d.active_opens, d.active_opens_per_sec, d.curr_estab]).toEqual([200n, 100, undefined]);
  });
});

describe("process (acceptance 20)", () => {
  const statLine = (utime: number, stime: number) =>
    `1234 (mock_process) R 1 1234 1234 0 -1 4194560 100 0 1 0 ${utime} ${stime} 0 0 20 0 1 0 100 1073741824 256 18446744073709551615\n`;
  const tree = (utime: number, stime: number) =>
    makeTree({
      "proc/stat": STAT,
      "proc/1234/stat": statLine(utime, stime),
      "proc/1234/status": "Name:\tmock_process\nThreads:\t1\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t5\n",
      "proc/1234/fd/0": "",
      "proc/1234/fd/1": "",
      "proc/1234/fd/2": "",
      "proc/1234/smaps_rollup": "Pss: 100 kB\nPrivate_Clean: 10 kB\nPrivate_Dirty: 20 kB\n",
      "proc/notapid/stat": "x",
    });
  test("mock /proc with one pid", async () => {
    const [p] = await new ProcessCollector(pathsFor(tree(1000, 500))).collect(sig());
    expect(p).toMatchObject({
      pid: 1234,
      command: "mock_process",
      state: "R",
      ppid: 1,
      cpu_time: 1500n,
      memory_vsz: 1073741824n,
      memory_rss: 256n * 4096n,
      num_fds: 3,
      num_threads: 1,
      voluntary_ctxt: 10n,
      involuntary_ctxt: 5n,
      memory_pss: 102400n,
      memory_uss: 30720n,
      nice: 0,
      priority: 20,
    });
    expect(p!.start_time).toBe("2022-01-01T00:00:01.000Z");
  });
  test("CPU% = 100 for 100 ticks over 1 s at USER_HZ 100", async () => {
    const fs = await import("node:fs");
    const root = tree(400, 300);
    let now = 5000;
    const c = new ProcessCollector(pathsFor(root), { now: () => now });
    expect((await c.collect(sig()))[0]!.cpu_percent).toBe(0);
    fs.writeFileSync(`${root}/proc/1234/stat`, statLine(500, 300));
    now = 6000;
    expect((await c.collect(sig()))[0]!.cpu_percent).toBe(100);
    fs.writeFileSync(`${root}/proc/1234/stat`, statLine(1, 1)); // pid reuse: no wrap-around
    now = 7000;
    expect((await c.collect(sig()))[0]!.cpu_percent).toBe(0);
  });
  test("top N default 20; override; missing optional files", async () => {
    expect(new ProcessCollector(pathsFor("/x")).topN).toBe(20);
    expect(new ProcessCollector(pathsFor("/x"), { topProcessCount: 5 }).topN).toBe(5);
    expect(new ProcessCollector(pathsFor("/x"), { topProcessCount: -1 }).topN).toBe(20);
    const root = makeTree({ "proc/42/stat": "42 (bare) S 1 42 42 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1\n" });
    const [p] = await new ProcessCollector(pathsFor(root)).collect(sig());
    expect([p!.pid, p!.num_fds, p!.num_threads, p!.memory_pss]).toEqual([42, 0, 0, 0n]);
  });
});

describe("cpu_info (acceptance 21)", () => {
  test("i7-8700K + cpufreq + node0", async () => {
    const root = makeTree({
      "proc/cpuinfo": sample("cpuinfo_i7_8700k"),
      "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq": "800000\n",
      "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq": "4700000\n",
      "sys/devices/system/node/node0": { dir: true },
    });
    const c = await new CPUInfoCollector(pathsFor(root)).collect(sig());
    expect(c).toMatchObject({
      logical_cores: 2,
      physical_cores: 2,
      vendor_id: "GenuineIntel",
      model_name: "Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz",
      cpu_family: 6,
      model: 158,
      stepping: 10,
      microcode: "0xde",
      cpu_mhz: 3700,
      cpu_min_mhz: 800,
      cpu_max_mhz: 4700,
      cache_size: "12288 KB",
      bogomips: 7399.7,
      numa_nodes: 1,
    });
    expect(c.cores.map((x) => x.core_id)).toEqual([0, 1]);
  });
  test("virtual without sysfs; empty; missing", async () => {
    const v = await new CPUInfoCollector(pathsFor(makeTree({ "proc/cpuinfo": sample("cpuinfo_t3_micro") }))).collect(sig());
    expect([v.physical_cores, v.cpu_min_mhz, v.cpu_max_mhz, v.numa_nodes]).toEqual([2, 0, 0, 1]);
    const e = await new CPUInfoCollector(pathsFor(makeTree({ "proc/cpuinfo": "" }))).collect(sig());
    expect([e.logical_cores, e.physical_cores]).toEqual([0, 0]);
    await expect(new CPUInfoCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("cpuinfo");
  });
});

describe("memory_info (acceptance 22)", () => {
  test("single node", async () => {
    const root = makeTree({
      "proc/meminfo": "MemTotal:       16384000 kB\n",
      "sys/devices/system/node/node0/meminfo": "Node 0 MemTotal:       8192000 kB\n",
      "sys/devices/system/node/node0/cpulist": "0-7\n",
    });
    const m = await new MemoryInfoCollector(pathsFor(root)).collect(sig());
    expect(m).toEqual({
      total_bytes: 16777216000n,
      numa_enabled: false,
      numa_balancing_available: false,
      numa_nodes: [{ node_id: 0, total_bytes: 8388608000n, cpus: [0, 1, 2, 3, 4, 5, 6, 7], distances: [] }],
    });
  });
  test("dual node with distances and balancing", async () => {
    const root = makeTree({
      "proc/meminfo": "MemTotal:       16384000 kB\n",
      "proc/sys/kernel/numa_balancing": "1\n",
      "sys/devices/system/node/node0/meminfo": "Node 0 MemTotal:       8192000 kB\n",
      "sys/devices/system/node/node0/cpulist": "0-3\n",
      "sys/devices/system/node/node0/distance": "10 21\n",
      "sys/devices/system/node/node1/meminfo": "Node 1 MemTotal:       8192000 kB\n",
      "sys/devices/system/node/node1/cpulist": "4-7\n",
      "sys/devices/system/node/node1/distance": "21 10\n",
    });
    const m = await new MemoryInfoCollector(pathsFor(root)).collect(sig());
    expect([m.numa_enabled, m.numa_balancing_available]).toEqual([true, true]);
    expect(m.numa_nodes.map((n) => [n.cpus, n.distances])).toEqual([
      [
        [0, 1, 2, 3],
        [10, 21],
      ],
      [
        [4, 5, 6, 7],
        [21, 10],
      ],
    ]);
  });
  test("synthetic node, complex and empty cpulists, errors", async () => {
    const syn = makeTree({
      "proc/meminfo": "MemTotal:       16384000 kB\n",
      "sys/devices/system/cpu/cpu0": { dir: true },
      "sys/devices/system/cpu/cpu1": { dir: true },
      "sys/devices/system/cpu/cpu2": { dir: true },
      "sys/devices/system/cpu/cpu3": { dir: true },
      "sys/devices/system/cpu/cpufreq": { dir: true },
    });
    expect((await new MemoryInfoCollector(pathsFor(syn)).collect(sig())).numa_nodes).toEqual([
      { node_id: 0, total_bytes: 16777216000n, cpus: [0, 1, 2, 3], distances: [10] },
    ]);
    const cx = makeTree({
      "proc/meminfo": "MemTotal: 1 kB\n",
      "sys/devices/system/node/node0/cpulist": "0-3,8,10-11,15\n",
      "sys/devices/system/node/node1/cpulist": "\n",
    });
    const m = await new MemoryInfoCollector(pathsFor(cx)).collect(sig());
    expect(m.numa_nodes.map((n) => n.cpus)).toEqual([[0, 1, 2, 3, 8, 10, 11, 15], []]);
    await expect(new MemoryInfoCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("meminfo");
    await expect(new MemoryInfoCollector(pathsFor(makeTree({ "proc/meminfo": "MemFree: 1 kB\n" }))).collect(sig())).rejects.toThrow(
      "MemTotal not found",
    );
  });
});

describe("disk_info (acceptance 23)", () => {
  test("attributes, partitions, filtering", async () => {
    const root = makeTree({
      "sys/block/sda/device/model": "Samsung SSD 860\n",
      "sys/block/sda/device/vendor": "ATA     \n",
      "sys/block/sda/size": "1953525168\n",
      "sys/block/sda/queue/logical_block_size": "512\n",
      "sys/block/sda/queue/physical_block_size": "4096\n",
      "sys/block/sda/queue/rotational": "0\n",
      "sys/block/sda/queue/nr_requests": "256\n",
      "sys/block/sda/queue/scheduler": "noop deadline [cfq]\n",
      "sys/block/sdb/size": "1953525168\n",
      "sys/block/sdb/sdb1/size": "204800\n",
      "sys/block/sdb/sdb1/start": "2048\n",
      "sys/block/sdb/sdb2/size": "1953318120\n",
      "sys/block/sdb/sdb2/start": "206848\n",
      "sys/block/loop0/size": "0\n",
      "sys/block/loop1/size": "0\n",
      "sys/block/ram0/size": "0\n",
    });
    const out = await new DiskInfoCollector(pathsFor(root)).collect(sig());
    expect(out.map((d) => d.device)).toEqual(["sda", "sdb"]);
    expect(out[0]).toEqual({
      device: "sda",
      model: "Samsung SSD 860",
      vendor: "ATA",
      size_bytes: 1000204886016n,
      block_size: 512,
      rotational: false,
      queue_depth: 256,
      scheduler: "cfq",
      physical_block_size: 4096,
      partitions: [],
    });
    expect(out[1]!.partitions).toEqual([
      { name: "sdb1", size_bytes: 204800n * 512n, start_sector: 2048n },
      { name: "sdb2", size_bytes: 1953318120n * 512n, start_sector: 206848n },
    ]);
  });
  test("software RAID kept, partition siblings dropped; missing block dir", async () => {
    const root = makeTree({
      "sys/block/sda/size": "1\n",
      "sys/block/sda1/size": "1\n",
      "sys/block/md0/size": "1\n",
      "sys/block/nvme0n1/size": "1\n",
      "sys/block/nvme0n1p1/size": "1\n",
    });
    expect((await new DiskInfoCollector(pathsFor(root)).collect(sig())).map((d) => d.device)).toEqual(["md0", "nvme0n1", "sda"]);
    await expect(new DiskInfoCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("failed to read block devices");
  });
});

describe("numa_stats (acceptance 24)", () => {
  const numastat = (hit: number, miss: number, foreign: number, inter: number, local: number, other: number) =>
    `numa_hit ${hit}\nnuma_miss ${miss}\nnuma_foreign ${foreign}\ninterleave_hit ${inter}\nlocal_node ${local}\nother_node ${other}\n`;
  const nodeMem = (n: number) =>
    `Node ${n} MemTotal: 67108864 kB\nNode ${n} MemFree: 12345678 kB\nNode ${n} MemUsed: 54763186 kB\nNode ${n} FilePages: 8192000 kB\nNode ${n} AnonPages: 46571186 kB\n`;
  test("dual node with full stats", async () => {
    const root = makeTree({
      "proc/sys/kernel/numa_balancing": "1\n",
      "sys/devices/system/node/node0/numastat": numastat(1234567890, 12345, 54321, 9876, 1234567000, 890),
      "sys/devices/system/node/node0/meminfo": nodeMem(0),
      "sys/devices/system/node/node1/numastat": numastat(987654321, 23456, 65432, 8765, 987654000, 321),
      "sys/devices/system/node/node1/meminfo": nodeMem(1),
      "sys/devices/system/node/possible": "0-1\n",
    });
    const s = await new NUMAStatsCollector(pathsFor(root)).collect(sig());
    expect([s.enabled, s.node_count, s.auto_balance_enabled]).toEqual([true, 2, true]);
    expect(s.nodes[0]).toEqual({
      id: 0,
      mem_free: 12345678n * 1024n,
      mem_used: 54763186n * 1024n,
      file_pages: 8192000n * 1024n,
      anon_pages: 46571186n * 1024n,
      numa_hit: 1234567890n,
      numa_miss: 12345n,
      numa_foreign: 54321n,
      interleave_hit: 9876n,
      local_node: 1234567000n,
      other_node: 890n,
    });
    expect(s.nodes[1]!.numa_hit).toBe(987654321n);
  });
  test("all-zero or missing numastat drops the node; single node; bad values", async () => {
    const zero = makeTree({
      "sys/devices/system/node/node0/numastat": numastat(0, 0, 0, 0, 0, 0),
      "sys/devices/system/node/node1/numastat": numastat(5, 0, 0, 0, 5, 0),
      "sys/devices/system/node/node2": { dir: true },
    });
    expect((await new NUMAStatsCollector(pathsFor(zero)).collect(sig())).nodes.map((n) => n.id)).toEqual([1]);
    const single = makeTree({
      "sys/devices/system/node/node0/numastat": numastat(1, 1, 1, 1, 1, 1),
      "proc/sys/kernel/numa_balancing": "0\n",
    });
    expect(await new NUMAStatsCollector(pathsFor(single)).collect(sig())).toEqual({
      enabled: false,
      node_count: 1,
      nodes: [],
      auto_balance_enabled: false,
    });
    const bad = makeTree({
      "sys/devices/system/node/node0/numastat": "numa_hit not-a-number\nnuma_miss 7\n",
      "sys/devices/system/node/node1/numastat": numastat(1, 1, 1, 1, 1, 1),
    });
    const b = await new NUMAStatsCollector(pathsFor(bad)).collect(sig());
    expect([b.nodes[0]!.numa_hit, b.nodes[0]!.numa_miss, b.nodes[0]!.mem_free]).toEqual([0n, 7n, 0n]);
    expect(await new NUMAStatsCollector(pathsFor(makeTree({}))).collect(sig())).toEqual({
      enabled: false,
      node_count: 0,
      nodes: [],
      auto_balance_enabled: false,
    });
  });
});

describe("network_info (acceptance 25)", () => {
  test("properties and driver", async () => {
    const root = makeTree({
      "sys/class/net/eth0/address": "aa:bb:cc:dd:ee:ff\n",
      "sys/class/net/eth0/speed": "1000\n",
      "sys/class/net/eth0/duplex": "full\n",
      "sys/class/net/eth0/mtu": "1500\n",
      "sys/class/net/eth0/operstate": "up\n",
      "sys/class/net/eth0/carrier": "1\n",
      "sys/bus/pci/drivers/e1000e": { dir: true },
      "sys/class/net/eth0/device/driver": { symlink: "../../../bus/pci/drivers/e1000e" },
      "sys/class/net/eth1/speed": "-1\n",
      "sys/class/net/lo/type": "772\n",
      "sys/class/net/lo/mtu": "65536\n",
      "sys/class/net/wlan0/wireless": { dir: true },
      "sys/class/net/enp0s3/type": "1\n",
      "sys/class/net/sit0/type": "776\n",
      "sys/class/net/gre0/type": "778\n",
      "sys/class/net/tap0/mtu": "1500\n",
      "sys/class/net/veth123/mtu": "1500\n",
      "sys/class/net/docker0/mtu": "1500\n",
      "sys/class/net/br-abcd/mtu": "1500\n",
      "sys/class/net/virbr0/mtu": "1500\n",
      "sys/class/net/eno1/device/vendor": "0x8086\n",
      "sys/class/net/myiface/mtu": "1500\n",
      "sys/class/net/bonding_masters": "\n",
    });
    const out = await new NetworkInfoCollector(pathsFor(root)).collect(sig());
    const by = Object.fromEntries(out.map((i) => [i.interface, i]));
    expect(by.eth0).toEqual({
      interface: "eth0",
      driver: "e1000e",
      mac_address: "aa:bb:cc:dd:ee:ff",
      speed: 1000,
      duplex: "full",
      mtu: 1500,
      type: "ethernet",
      oper_state: "up",
      carrier: true,
    });
    expect(by.eth1!.speed).toBe(0);
    expect([by.lo!.type, by.lo!.mtu]).toEqual(["loopback", 65536]);
    const types = Object.fromEntries(out.map((i) => [i.interface, i.type]));
    expect(types).toEqual({
      "br-abcd": "bridge",
      docker0: "bridge",
      eno1: "ethernet",
      enp0s3: "ethernet",
      eth0: "ethernet",
      eth1: "ethernet",
      gre0: "tunnel",
      lo: "loopback",
      myiface: "virtual",
      sit0: "tunnel",
      tap0: "tap",
      veth123: "virtual",
      virbr0: "bridge",
      wlan0: "wireless",
    });
  });
});

const H64 = "0123456789abcdef".repeat(4);

describe("cgroups (acceptance 26, 27, 28)", () => {
  test("cgroup v1 CPU", async () => {
    const root = makeTree({
      "sys/fs/cgroup/cpu/docker/abc123def456/cpu.stat": "nr_periods 1000\nnr_throttled 50\nthrottled_time 5000000000\n",
      "sys/fs/cgroup/cpu/docker/abc123def456/cpu.shares": "1024\n",
      "sys/fs/cgroup/cpu/docker/abc123def456/cpu.cfs_quota_us": "50000\n",
      "sys/fs/cgroup/cpu/docker/abc123def456/cpu.cfs_period_us": "100000\n",
      "sys/fs/cgroup/cpuacct/docker/abc123def456/cpuacct.usage": "123456789000\n",
      "sys/fs/cgroup/cpu/system.slice/docker-789abc123def.scope/cpu.stat": "nr_periods 2000\nnr_throttled 0\nthrottled_time 0\n",
    });
    const out = await new CgroupCPUCollector(pathsFor(root)).collect(sig());
    expect(out.length).toBe(2);
    const a = out.find((c) => c.container_id === "abc123def456")!;
    expect(a).toMatchObject({
      runtime: "docker",
      usage_nanos: 123456789000n,
      nr_periods: 1000n,
      nr_throttled: 50n,
      throttled_time: 5000000000n,
      cpu_shares: 1024n,
      cpu_quota_us: 50000n,
      cpu_period_us: 100000n,
      throttle_percent: 5,
    });
    expect(out.find((c) => c.container_id === "789abc123def")!.nr_periods).toBe(2000n);
  });
  test("cgroup v2 CPU", async () => {
    const root = makeTree({
      "sys/fs/cgroup/cgroup.controllers": "cpu memory io\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/cgroup.procs": "1\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/cpu.stat":
        "usage_usec 150000000\nuser_usec 100000000\nsystem_usec 50000000\nnr_periods 1500\nnr_throttled 75\nthrottled_usec 7500000\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/cpu.max": "50000 100000\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/cpu.weight": "100\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod123.slice/${H64}/cgroup.procs`]: "2\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod123.slice/${H64}/cpu.stat`]: "usage_usec 1\nnr_periods 0\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod123.slice/${H64}/cpu.max`]: "max 100000\n",
    });
    const out = await new CgroupCPUCollector(pathsFor(root)).collect(sig());
    const a = out.find((c) => c.container_id === "abc123def456")!;
    expect(a).toMatchObject({
      usage_nanos: 150000000000n,
      throttled_time: 7500000000n,
      cpu_quota_us: 50000n,
      cpu_period_us: 100000n,
      cpu_shares: 1024n,
      throttle_percent: 5,
    });
    expect(out.find((c) => c.container_id === H64)!.cpu_quota_us).toBe(-1n);
    await expect(new CgroupCPUCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("failed to detect cgroup version");
  });
  test("v1 partial data", async () => {
    const root = makeTree({ "sys/fs/cgroup/cpu/docker/abc123def456/cpu.stat": "nr_periods 10\nnr_throttled 1\nthrottled_time 5\n" });
    const [c] = await new CgroupCPUCollector(pathsFor(root)).collect(sig());
    expect([c!.cpu_shares, c!.usage_nanos]).toEqual([0n, 0n]);
  });
  const v1mem = (extra: Record<string, string> = {}) => ({
    "sys/fs/cgroup/memory/docker/abc123def456/memory.stat":
      "cache 536870912\nrss 1073741824\nmapped_file 134217728\nswap 0\nactive_anon 1\ninactive_anon 2\nactive_file 3\ninactive_file 4\n",
    "sys/fs/cgroup/memory/docker/abc123def456/memory.usage_in_bytes": "1610612736\n",
    "sys/fs/cgroup/memory/docker/abc123def456/memory.limit_in_bytes": "2147483648\n",
    "sys/fs/cgroup/memory/docker/abc123def456/memory.max_usage_in_bytes": "1879048192\n",
    "sys/fs/cgroup/memory/docker/abc123def456/memory.failcnt": "5\n",
    "sys/fs/cgroup/memory/docker/abc123def456/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    ...extra,
  });
  test("cgroup v1 memory", async () => {
    const [m] = await new CgroupMemoryCollector(pathsFor(makeTree(v1mem()))).collect(sig());
    expect(m).toMatchObject({
      rss: 1073741824n,
      cache: 536870912n,
      mapped_file: 134217728n,
      swap: 0n,
      usage_bytes: 1610612736n,
      limit_bytes: 2147483648n,
      max_usage_bytes: 1879048192n,
      fail_count: 5n,
      under_oom: false,
      oom_kill_count: 2n,
      usage_percent: 75,
    });
    expect(m!.cache_percent).toBeCloseTo(33.33, 2);
  });
  test("cgroup v1 OOM", async () => {
    const t = v1mem({
      "sys/fs/cgroup/memory/docker/abc123def456/memory.usage_in_bytes": "2147483648\n",
      "sys/fs/cgroup/memory/docker/abc123def456/memory.oom_control": "oom_kill_disable 0\nunder_oom 1\noom_kill 10\n",
    });
    const [m] = await new CgroupMemoryCollector(pathsFor(makeTree(t))).collect(sig());
    expect([m!.under_oom, m!.oom_kill_count, m!.usage_percent]).toEqual([true, 10n, 100]);
  });
  test("cgroup v2 memory", async () => {
    const root = makeTree({
      "sys/fs/cgroup/cgroup.controllers": "memory\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/cgroup.procs": "1\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/memory.stat":
        "anon 1073741824\nfile 536870912\nfile_mapped 134217728\nswap 0\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/memory.current": "1610612736\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/memory.max": "2147483648\n",
      "sys/fs/cgroup/system.slice/docker-abc123def456.scope/memory.events": "low 0\nhigh 0\nmax 10\noom 4\noom_kill 3\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/${H64}/cgroup.procs`]: "2\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/${H64}/memory.stat`]: "anon 1\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/${H64}/memory.current`]: "100\n",
      [`sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/${H64}/memory.max`]: "max\n",
    });
    const out = await new CgroupMemoryCollector(pathsFor(root)).collect(sig());
    expect(out.find((m) => m.container_id === "abc123def456")).toMatchObject({
      rss: 1073741824n,
      cache: 536870912n,
      mapped_file: 134217728n,
      fail_count: 10n,
      oom_kill_count: 3n,
      usage_percent: 75,
    });
    expect(out.find((m) => m.container_id === H64)).toMatchObject({ limit_bytes: 18446744073709551615n, usage_percent: 0 });
  });
  test("discovery v1 and v2, version detection", async () => {
    const io = new HostIo("/nonexistent");
    const v1 = makeTree({
      "sys/fs/cgroup/cpu/docker/abc123def456789/cpu.shares": "1",
      "sys/fs/cgroup/cpu/system.slice/docker-fedcba987654321.scope/cpu.shares": "1",
      [`sys/fs/cgroup/cpu/containerd/${H64}/cpu.shares`]: "1",
      "sys/fs/cgroup/cpu/docker/tooshort/cpu.shares": "1",
      "sys/fs/cgroup/cpu/docker/notahexstring!/cpu.shares": "1",
    });
    const r1 = `${v1}/sys/fs/cgroup`;
    expect(await detectCgroupVersion(io, r1, sig())).toBe(1);
    const found = await discoverContainers(io, r1, 1, "cpu", sig());
    expect(found.map((c) => [c.id, c.runtime]).sort()).toEqual(
      [
        [H64, "containerd"],
        ["abc123def456789", "docker"],
        ["fedcba987654321", "docker"],
      ].sort() as never,
    );
    const v2 = makeTree({
      "sys/fs/cgroup/cgroup.controllers": "",
      "sys/fs/cgroup/system.slice/docker-abc123def456789.scope/cgroup.procs": "",
      [`sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-${H64}.scope/cgroup.procs`]:
        "",
      "sys/fs/cgroup/user.slice/cgroup.procs": "",
    });
    const r2 = `${v2}/sys/fs/cgroup`;
    expect(await detectCgroupVersion(io, r2, sig())).toBe(2);
    const f2 = await discoverContainers(io, r2, 2, "", sig());
    expect(f2.map((c) => [c.id, c.runtime]).sort()).toEqual(
      [
        [H64, "containerd"],
        ["abc123def456789", "docker"],
      ].sort() as never,
    );
    const mem = makeTree({ "sys/fs/cgroup/memory": { dir: true } });
    expect(await detectCgroupVersion(io, `${mem}/sys/fs/cgroup`, sig())).toBe(1);
    await expect(detectCgroupVersion(io, `${makeTree({})}/sys/fs/cgroup`, sig())).rejects.toThrow("unable to detect cgroup version");
  });
  test("discovery: cri-o's container scope, not its conmon's; ctr's v1 /<ns>/<id> containers only when asked", async () => {
    const io = new HostIo("/nonexistent");
    const C = "c".repeat(64);
    const lone = "d".repeat(64);
    const v2 = makeTree({
      "sys/fs/cgroup/cgroup.controllers": "",
      [`sys/fs/cgroup/kubepods.slice/crio-conmon-${C}.scope/cgroup.procs`]: "",
      [`sys/fs/cgroup/kubepods.slice/crio-${C}.scope/cgroup.procs`]: "",
      [`sys/fs/cgroup/kubepods.slice/crio-conmon-${lone}.scope/cgroup.procs`]: "",
    });
    // The walk meets the two scopes of C in listing order: either order gives the container's.
    for (const conmonFirst of [true, false]) {
      const ordered = new (class extends HostIo {
        override async listOptional(path: string, signal?: AbortSignal) {
          const rank = (n: string) => (n.startsWith("crio-conmon-") === conmonFirst ? 0 : 1);
          return (await super.listOptional(path, signal)).sort((a, b) => rank(a.name) - rank(b.name));
        }
      })("/nonexistent");
      const f = await discoverContainers(ordered, `${v2}/sys/fs/cgroup`, 2, "", sig());
      expect(f.map((c) => c.relPath).sort()).toEqual([`kubepods.slice/crio-${C}.scope`, `kubepods.slice/crio-conmon-${lone}.scope`]);
    }
    const v1 = makeTree({
      [`sys/fs/cgroup/cpu/default/${H64}/cpu.shares`]: "1",
      [`sys/fs/cgroup/cpu/docker/${C}/cpu.shares`]: "1",
      [`sys/fs/cgroup/cpu/k8s.io/${C}/cpu.shares`]: "1",
      [`sys/fs/cgroup/cpu/user.slice/${lone}/cpu.shares`]: "1",
    });
    const r1 = `${v1}/sys/fs/cgroup`;
    expect((await discoverContainers(io, r1, 1, "cpu", sig())).map((c) => c.relPath)).toEqual([`docker/${C}`]);
    const withNs = await discoverContainers(io, r1, 1, "cpu", sig(), { namespaceChildren: true });
    expect(withNs.map((c) => [c.relPath, c.path]).sort()).toEqual(
      [
        [`default/${H64}`, `${r1}/cpu/default/${H64}`],
        [`docker/${C}`, `${r1}/cpu/docker/${C}`],
      ].sort() as never,
    );
  });
});

describe("filesystem (node_exporter's filesystem collector; not in the original)", () => {
  test("mounts from mountinfo, allowlisted types, excluded mount points, statfs sizes", async () => {
    const { FilesystemCollector } = await import("../../src/perf/collectors/filesystem.ts");
    const root = makeTree({ "data/x": "" });
    const data = `${root}/data`;
    const mi = [
      `1 0 8:1 / ${data} rw,relatime - ext4 /dev/sda1 rw`,
      `2 1 0:5 / /proc rw - proc proc rw`,
      `3 1 0:6 / /dev/shm rw - tmpfs tmpfs rw`,
      `4 1 0:7 / ${root}/ro ro,relatime - xfs /dev/sdb1 ro`,
      `5 1 0:8 / /weird rw - somefs x rw`,
      "garbage",
    ].join("\n");
    const t = makeTree({ "proc/self/mountinfo": mi + "\n" });
    const out = await new FilesystemCollector(pathsFor(t)).collect(sig());
    expect(out.map((f) => [f.mount_point, f.fs_type, f.device, f.read_only])).toEqual([
      [data, "ext4", "/dev/sda1", false],
      [`${root}/ro`, "xfs", "/dev/sdb1", true],
    ]);
    expect(out[0]!.size_bytes).toBeGreaterThan(0n);
    expect(out[0]!.avail_bytes).toBeLessThanOrEqual(out[0]!.size_bytes);
    expect(out[0]!.device_error).toBe(false);
    expect(out[1]!.device_error).toBe(true); // the mount point does not exist
    await expect(new FilesystemCollector(pathsFor(makeTree({}))).collect(sig())).rejects.toThrow("mountinfo");
  });
});
