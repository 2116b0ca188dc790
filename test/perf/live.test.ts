// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Collectors on the live host (CI runs as root on a VM): every built-in one succeeds, kmsg reads and
// follows, sock_diag agrees with /proc/net/tcp, one-shot collect has rates, fd counts match.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { defaultRegistry, runCollect } from "../../src/perf/collect-command.ts";
import { DEFAULT_HOST_PATHS, type PointCollector } from "../../src/perf/collector.ts";
import { countTcpStates, emptyStateCounts } from "../../src/perf/parsers/nettcp.ts";
import { isPoint } from "../../src/perf/registry.ts";
import { countTcpStatesNetlink, countTcpStatesNetlinkYielding } from "../../src/perf/sockdiag.ts";
import { hasCapability, parseCapEff } from "../../src/system/capabilities.ts";

// The live host: CI runs these as root on a VM, so every built-in collector must be available and succeed.
// The development sandbox mounts its own tooling under /mnt/sandboxing; the filesystem collector is told
// to leave it alone (node_exporter's default exclusions plus that prefix).
const OPTS = { filesystemMountExclude: /^\/(dev|proc|sys|mnt\/sandboxing|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/ };

test("every built-in point collector is available and succeeds on this host", async () => {
  const reg = await defaultRegistry(DEFAULT_HOST_PATHS, OPTS);
  const entries = reg.entries().filter((e) => e.spec.type !== "execsnoop");
  expect(entries.length).toBe(18);
  for (const e of entries) expect([e.spec.type, e.available, e.reason]).toEqual([e.spec.type, true, undefined]);
  for (const e of entries) {
    const c = e.create();
    expect(isPoint(c)).toBe(true);
    const data = await (c as PointCollector).collect(AbortSignal.timeout(10_000));
    expect([e.spec.type, data !== undefined && data !== null]).toEqual([e.spec.type, true]);
  }
});

test("kernel collector reads /dev/kmsg records (needs CAP_SYSLOG, which root has)", async () => {
  expect(hasCapability(parseCapEff(readFileSync("/proc/self/status", "utf8")), "CAP_SYSLOG")).toBe(true);
  const reg = await defaultRegistry(DEFAULT_HOST_PATHS, OPTS);
  const c = reg.get("kernel")!.create() as PointCollector;
  const recs = (await c.collect(AbortSignal.timeout(5000))) as { sequence_num: bigint; timestamp: string }[];
  expect(recs.length).toBeGreaterThan(0);
  expect(recs.length).toBeLessThanOrEqual(50);
  expect(typeof recs[0]!.sequence_num).toBe("bigint");
  expect(Date.parse(recs[0]!.timestamp)).toBeGreaterThan(Date.parse("2000-01-01"));
});

test("sock_diag state counts agree with /proc/net/tcp{,6} on this host (within churn)", async () => {
  const net = countTcpStatesNetlink();
  const files = emptyStateCounts();
  countTcpStates(readFileSync("/proc/net/tcp", "utf8"), files);
  countTcpStates(readFileSync("/proc/net/tcp6", "utf8"), files);
  expect(Object.keys(net).sort()).toEqual(Object.keys(files).sort());
  expect(Math.abs(net.LISTEN! - files.LISTEN!)).toBeLessThanOrEqual(2);
  // open a listener and see it counted
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    expect(countTcpStatesNetlink().LISTEN).toBeGreaterThanOrEqual(net.LISTEN! + 1);
  } finally {
    server.stop(true);
  }
});

test("sock_diag yielding dump: same counts as the blocking one, the event loop runs between chunks, abort stops it", async () => {
  // Enough sockets for several 64 KiB chunks (one record is 72+ bytes): connect-and-close loops leave TIME_WAIT.
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end(), data() {} } });
  try {
    for (let i = 0; i < 3000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, () =>
          Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close() {} } }).then((c) => c.end()),
        ),
      );
    }
    const blocking = countTcpStatesNetlink();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const yielding = await countTcpStatesNetlinkYielding();
    clearInterval(timer);
    expect(blocking.TIME_WAIT! + blocking.ESTABLISHED!).toBeGreaterThan(2000);
    expect(Math.abs(yielding.TIME_WAIT! - blocking.TIME_WAIT!)).toBeLessThanOrEqual(500); // churn: TIME_WAIT expires and ends
    expect(yielding.LISTEN).toBe(blocking.LISTEN!);
    expect(ticks).toBeGreaterThan(0);
    const aborted = new AbortController();
    aborted.abort(new Error("stop"));
    await expect(countTcpStatesNetlinkYielding(aborted.signal)).rejects.toThrow("stop");
  } finally {
    server.stop(true);
  }
});

test("one-shot collect on the live host: all keys, rates on the first output, exact JSON", async () => {
  const t0 = performance.now();
  const { output, exitCode } = await runCollect({ paths: DEFAULT_HOST_PATHS, format: "json", collectorOptions: OPTS });
  const elapsed = performance.now() - t0;
  expect(exitCode).toBe(0);
  const j = JSON.parse(output);
  expect(Object.keys(j)).toEqual([
    "load",
    "cpu",
    "memory",
    "system",
    "disk",
    "network",
    "tcp",
    "kernel",
    "process",
    "numa_stats",
    "cgroup_cpu",
    "cgroup_memory",
    "cpu_info",
    "memory_info",
    "disk_info",
    "network_info",
    "filesystem",
    "netclass",
  ]);
  expect(j.filesystem.find((f: { mount_point: string }) => f.mount_point === "/").size_bytes).toBeGreaterThan(0);
  expect(j.cpu[0].delta.user_percent).toBeNumber();
  expect(j.system.delta.context_switches_per_sec).toBeNumber();
  expect(j.network[0].delta.rx_bytes_per_sec).toBeNumber();
  expect(j.tcp.delta).toBeDefined();
  expect(j.memory.mem_total).toBeGreaterThan(0);
  expect(j.process.length).toBeGreaterThan(0);
  expect(j.process.some((p: { cpu_percent: number }) => p.cpu_percent > 0)).toBe(true);
  expect(elapsed).toBeLessThan(3000);
});

test("kernel follow mode delivers a record written to /dev/kmsg", async () => {
  const reg = await defaultRegistry(DEFAULT_HOST_PATHS, OPTS);
  const c = reg.get("kernel")!.create() as unknown as import("../../src/perf/collector.ts").ContinuousCollector;
  const got: { message: string; severity: number }[] = [];
  await c.start((e) => void got.push(e.data as { message: string; severity: number }));
  try {
    const marker = `antimetal-perf-test ${process.pid} ${Date.now()}`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync("/dev/kmsg", `<4>${marker}\n`);
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && !got.some((r) => r.message === marker)) await Bun.sleep(50);
    const rec = got.find((r) => r.message === marker);
    expect(rec?.severity).toBe(4);
  } finally {
    await c.stop();
  }
});

test("process fd counts from stat() of /proc/<pid>/fd match a listing", async () => {
  const { HostIo } = await import("../../src/perf/io.ts");
  const { readdirSync, openSync, closeSync } = await import("node:fs");
  const io = new HostIo("/sys", 4, "/proc");
  const fds = Array.from({ length: 5 }, () => openSync("/proc/self/stat", "r"));
  try {
    const n = io.fdCountSoft(`/proc/${process.pid}/fd`).count!;
    const listed = readdirSync(`/proc/${process.pid}/fd`).length - 1; // the listing's own directory fd
    expect(Math.abs(n - listed)).toBeLessThanOrEqual(1);
    expect(n).toBeGreaterThanOrEqual(8);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
});
