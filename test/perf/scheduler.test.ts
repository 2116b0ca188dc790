// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of the metrics path under `run`: router fan-out and drops, scheduler timing and timeouts,
// continuous collectors, and the Prometheus exposition's node_exporter names from fixture data.

import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import type { ExecRecordData } from "../../src/ebpf/execsnoop.ts";
import { createLogger } from "../../src/log/logger.ts";
import { registry as shared } from "../../src/metrics/registry.ts";
import { type MetricEvent, metricEvent } from "../../src/perf/collector.ts";
import { CPUCollector } from "../../src/perf/collectors/cpu.ts";
import { DiskCollector } from "../../src/perf/collectors/disk.ts";
import type { LoadStats } from "../../src/perf/collectors/load.ts";
import { LoadCollector } from "../../src/perf/collectors/load.ts";
import { MemoryCollector } from "../../src/perf/collectors/memory.ts";
import { NetClassCollector } from "../../src/perf/collectors/netclass.ts";
import type { NetworkStats } from "../../src/perf/collectors/network.ts";
import { NetworkCollector } from "../../src/perf/collectors/network.ts";
import { SystemStatsCollector } from "../../src/perf/collectors/system.ts";
import { TCPCollector } from "../../src/perf/collectors/tcp.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { HostIo } from "../../src/perf/io.ts";
import type { KmsgRecord } from "../../src/perf/parsers/kmsg.ts";
import { createCollectorRegistry } from "../../src/perf/registry.ts";
import { MetricsRouter } from "../../src/perf/router.ts";
import { CollectorScheduler } from "../../src/perf/scheduler.ts";
import { parseKernelVersion } from "../../src/system/kernel-version.ts";
import { cleanupTrees, makeTree, pathsFor, sample, sig } from "./tree.ts";

afterAll(cleanupTrees);

const STAT =
  "cpu  1234 56 789 10000 200 30 40 50 60 70\ncpu0 600 30 400 5000 100 15 20 25 30 35\nintr 18446744073709551615 1\nctxt 987654321\nbtime 1640995200\nprocesses 77\nprocs_running 3\nprocs_blocked 1\n";

test("router: fan-out, bounded queue drops are counted, a throwing consumer does not stop others", async () => {
  const router = new MetricsRouter({ capacity: 2, queueName: "test_router" });
  const got: MetricEvent[] = [];
  router.subscribe({
    name: "bad",
    accept: () => {
      throw new Error("boom");
    },
  });
  router.subscribe({ name: "good", accept: (e) => void got.push(e) });
  // Numbers stand in for load data: the router passes data through without looking at it.
  const ev = (i: number): MetricEvent => ({
    timestamp: new Date(),
    metricType: "load",
    eventType: "gauge",
    nodeName: "n",
    data: i as never,
  });
  const results = [1, 2, 3, 4, 5].map((i) => router.publish(ev(i)));
  expect(results).toEqual([true, true, false, false, false]);
  await Promise.resolve();
  expect(got.map((e) => e.data as unknown)).toEqual([1, 2]);
  const text = await shared.metrics();
  expect(text).toContain('antimetal_queue_dropped_total{queue="test_router",reason="full"} 3');
  expect(text).toContain('antimetal_metrics_router_consumer_errors_total{consumer="bad"} 2');
});

test("scheduler: first sample at once, stuck collector times out alone, its error is logged once", async () => {
  const root = makeTree({ "proc/stat": STAT });
  execFileSync("mkfifo", [`${root}/proc/loadavg`]);
  const paths = pathsFor(root);
  // a blocking open of the FIFO stands in for a hung file (by default FIFOs are refused unread)
  const io = new HostIo(paths.sys, 4, paths.proc, { regularOnly: false });
  const registry = createCollectorRegistry(paths, { capabilities: 0n, kernel: parseKernelVersion("6.1") }, { io });
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(s) } as unknown as NodeJS.WritableStream });
  const router = new MetricsRouter({ queueName: "test_sched" });
  const events: MetricEvent[] = [];
  router.subscribe({ name: "t", accept: (e) => void events.push(e) });
  const s = new CollectorScheduler({
    registry,
    router,
    logger,
    nodeName: "node-a",
    intervalMs: 150,
    timeoutMs: 100,
    collectors: ["load", "cpu", "system"],
  });
  const t0 = Date.now();
  await s.start();
  try {
    await Bun.sleep(60);
    expect(events.some((e) => e.metricType === "cpu")).toBe(true); // not delayed by one interval
    await Bun.sleep(700);
    const cpu = events.filter((e) => e.metricType === "cpu");
    expect(cpu.length).toBeGreaterThanOrEqual(4);
    expect((cpu.at(-1)!.data as { delta?: unknown }[])[0]!.delta).toBeDefined();
    expect(events.filter((e) => e.metricType === "load").length).toBe(0);
    expect(events.find((e) => e.metricType === "system")!.eventType).toBe("counter");
    expect(events[0]!.nodeName).toBe("node-a");
    const loadErrors = lines.filter((l) => l.includes('"collector":"load"') && l.includes("collection failed"));
    expect(loadErrors.length).toBe(1);
    const text = await shared.metrics();
    expect(text).toMatch(/antimetal_collector_errors_total\{collector="load",reason="timeout"\} [1-9]/);
    expect(text).toMatch(/antimetal_collector_errors_total\{collector="load",reason="timeout"\} [2-9]/);
    expect(text).toContain('antimetal_collector_up{collector="load"} 0');
  } finally {
    await s.stop(AbortSignal.timeout(1000));
    const fd = fs.openSync(`${root}/proc/loadavg`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.closeSync(fd);
  }
  expect(Date.now() - t0).toBeLessThan(3000);
  const n = events.length;
  await Bun.sleep(300);
  expect(events.length).toBe(n); // stopped
});

test("exposition: node_exporter names, labels and units from fixture data", async () => {
  const root = makeTree({
    "proc/stat": STAT,
    "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n",
    "proc/meminfo": sample("meminfo"),
    "proc/vmstat": "pgfault 100\npswpin 5\nnr_free_pages 1\n",
    "proc/diskstats": sample("diskstats"),
    "proc/net/dev": sample("net_dev"),
    "sys/class/net/eth0/speed": "1000\n",
    "sys/class/net/eth0/operstate": "up\n",
    "proc/net/snmp": sample("snmp"),
    "proc/net/netstat": sample("netstat"),
    "proc/net/tcp": sample("tcp"),
    "proc/net/tcp6": sample("tcp6"),
    "proc/net/sockstat": "sockets: used 11\nTCP: inuse 1 orphan 0 tw 2 alloc 1 mem 149\n",
  });
  const paths = pathsFor(root);
  const expo = new PrometheusExposition({ userHz: 100, pageSize: 4096 });
  const ev = metricEvent;
  expo.accept(ev("cpu", await new CPUCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("load", await new LoadCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("system", await new SystemStatsCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("memory", await new MemoryCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("disk", await new DiskCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("network", await new NetworkCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("netclass", await new NetClassCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("tcp", await new TCPCollector(paths).collect(sig()), "gauge", "n"));
  expo.accept(ev("kernel", { severity: 3 } as KmsgRecord, "event", "n"));
  const text = await expo.render();
  const want = [
    'node_cpu_seconds_total{cpu="0",mode="user"} 6',
    'node_cpu_seconds_total{cpu="0",mode="iowait"} 1',
    'node_cpu_guest_seconds_total{cpu="0",mode="nice"} 0.35',
    "# TYPE node_cpu_seconds_total counter",
    "node_load1 0.5",
    "node_load15 2.75",
    "node_intr_total 18446744073709552000",
    "node_context_switches_total 987654321",
    "node_boot_time_seconds 1640995200",
    "node_forks_total 77",
    "node_procs_running 3",
    "node_procs_blocked 1",
    "node_memory_MemTotal_bytes 8388608000",
    "node_memory_Active_anon_bytes 1048576000",
    "node_memory_HugePages_Total 0",
    "node_memory_Hugepagesize_bytes 2097152",
    "node_vmstat_pgfault 100",
    "node_vmstat_pswpin 5",
    'node_disk_read_bytes_total{device="sda"} 455742976',
    'node_disk_read_time_seconds_total{device="sda"} 4.567',
    'node_disk_io_time_weighted_seconds_total{device="sda"} 9.012',
    'node_disk_reads_completed_total{device="nvme0n1"} 9000',
    'node_disk_discards_completed_total{device="nvme0n1"} 12',
    'node_network_receive_bytes_total{device="eth0"} 9876543210',
    'node_network_transmit_colls_total{device="eth0"} 5',
    'node_network_speed_bytes{device="eth0"} 125000000',
    'node_network_up{device="eth0"} 1',
    "node_netstat_Tcp_CurrEstab 8",
    "node_netstat_Tcp_ActiveOpens 100",
    "node_netstat_TcpExt_ListenDrops 15",
    "node_netstat_IpExt_InOctets 18446744073709552000",
    "node_netstat_Udp_OutDatagrams 12",
    "node_sockstat_TCP_tw 2",
    "node_sockstat_TCP_mem_bytes 610304",
    'node_tcp_connection_states{state="established"} 3',
    'node_tcp_connection_states{state="listen"} 2',
    'antimetal_kernel_messages_total{severity="3"} 1',
  ];
  for (const w of want) expect(text).toContain(w + "\n");
  expect(text).not.toContain('device="loop0"');
  expect(text).not.toContain('cpu="-1"');
  expect(expo.familyNames().length).toBeGreaterThan(100);
});

test("exposition: unexpected data renders empty and is counted as an error, the scrape still succeeds", async () => {
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(s) } as unknown as NodeJS.WritableStream });
  const expo = new PrometheusExposition({ logger });
  // Data the compiler would refuse, as a faulty external collector could still send it at run time.
  for (const t of [
    "cpu",
    "memory",
    "disk",
    "network",
    "tcp",
    "process",
    "cgroup_cpu",
    "cgroup_memory",
    "numa_stats",
    "load",
    "system",
  ] as const)
    expo.accept({ timestamp: new Date(), metricType: t, eventType: "gauge", nodeName: "n", data: "garbage" as never });
  const text = await expo.render();
  // A family without samples is not served at all (node_exporter never serves a bare HELP/TYPE pair).
  expect(text).not.toContain("node_cpu_seconds_total");
  const self = await shared.metrics();
  expect(self).toMatch(/^antimetal_exposition_errors_total\{family="node_cpu_seconds_total"\} [1-9]/m);
  expect(lines.filter((l) => l.includes('"family":"node_cpu_seconds_total"')).length).toBe(1);
  await expo.renderAll(); // a second failing render is counted, not logged again
  expect(lines.filter((l) => l.includes('"family":"node_cpu_seconds_total"')).length).toBe(1);
});

test("exposition: a family is capped at maxSeriesPerFamily and the dropped series are counted", async () => {
  const expo = new PrometheusExposition({ maxSeriesPerFamily: 3 });
  const nic = (i: number) =>
    ({ interface: `veth${i}`, rx_bytes: BigInt(i), speed: 0n, oper_state: "up", link_detected: true }) as unknown as NetworkStats;
  expo.accept(
    metricEvent(
      "network",
      Array.from({ length: 10 }, (_, i) => nic(i)),
      "counter",
      "n",
    ),
  );
  const text = await expo.render();
  expect(text.match(/^node_network_receive_bytes_total\{/gm)?.length).toBe(3);
  expect(text).toContain('node_network_receive_bytes_total{device="veth2"} 2\n');
  expect(text).not.toContain('device="veth3"');
  expect(await shared.metrics()).toMatch(/^antimetal_exposition_series_dropped_total\{family="node_network_receive_bytes_total"\} 7$/m);
});

test("exposition: a group is rendered again only after new data of its types", async () => {
  const expo = new PrometheusExposition();
  const load = (l1: number): LoadStats => ({
    load_1min: l1,
    load_5min: 0,
    load_15min: 0,
    running_procs: 1,
    total_procs: 2,
    blocked_procs: 0,
    last_pid: 3,
    uptime: 0n,
  });
  expo.accept(metricEvent("load", load(0.5), "gauge", "n"));
  const v1 = expo.version;
  expect(await expo.render()).toContain("node_load1 0.5\n");
  expect(expo.version).toBe(v1);
  expo.accept(metricEvent("load", load(1.5), "gauge", "n"));
  expect(expo.version).toBeGreaterThan(v1);
  expect(await expo.render()).toContain("node_load1 1.5\n");
});

test("scheduler starts an externally registered continuous collector and stops it", async () => {
  const registry = createCollectorRegistry(pathsFor(makeTree({})), { capabilities: (1n << 41n) - 1n, kernel: parseKernelVersion("6.1") });
  const spec = { type: "execsnoop" as const, name: "exec", point: false, continuous: true, requiredCapabilities: [], minKernel: "5.8" };
  let stopped = false;
  registry.registerExternal({
    spec,
    create: () => ({
      spec,
      start: async (emit: (e: MetricEvent) => void) =>
        emit({ timestamp: new Date(), metricType: "execsnoop", eventType: "event", nodeName: "", data: { pid: 1 } as ExecRecordData }),
      stop: async () => void (stopped = true),
    }),
  });
  const router = new MetricsRouter({ queueName: "test_ext" });
  const got: MetricEvent[] = [];
  router.subscribe({ name: "t", accept: (e) => void got.push(e) });
  const s = new CollectorScheduler({
    registry,
    router,
    logger: createLogger({ level: "error" }),
    nodeName: "node-b",
    collectors: ["execsnoop"],
  });
  await s.start();
  await Promise.resolve();
  expect(s.running()).toEqual(["execsnoop"]);
  expect(got.map((e) => [e.metricType, e.nodeName])).toEqual([["execsnoop", "node-b"]]);
  await s.stop(AbortSignal.timeout(1000));
  expect(stopped).toBe(true);
});

test("exposition: node_filesystem_* with node_exporter labels", async () => {
  const expo = new PrometheusExposition();
  const fsRow = {
    device: "/dev/sda1",
    mount_point: "/data",
    fs_type: "ext4",
    read_only: false,
    size_bytes: 1000n,
    free_bytes: 300n,
    avail_bytes: 200n,
    files: 50n,
    files_free: 40n,
    device_error: false,
  };
  expo.accept({ timestamp: new Date(), metricType: "filesystem", eventType: "gauge", nodeName: "n", data: [fsRow] });
  const text = await expo.render();
  const l = 'device="/dev/sda1",fstype="ext4",mountpoint="/data"';
  for (const w of [
    `node_filesystem_size_bytes{${l}} 1000`,
    `node_filesystem_avail_bytes{${l}} 200`,
    `node_filesystem_free_bytes{${l}} 300`,
    `node_filesystem_files_free{${l}} 40`,
    `node_filesystem_readonly{${l}} 0`,
    `node_filesystem_device_error{${l}} 0`,
  ])
    expect(text).toContain(w + "\n");
});
