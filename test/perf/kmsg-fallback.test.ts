// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The kernel collector's syslog(2) fallback on the real kernel (CI runs as root): with the dev root
// at an empty directory <dev>/kmsg is missing, as when a pod's device cgroup refuses /dev/kmsg, and the
// collector must still deliver the kernel log; without CAP_SYSLOG (kernel.dmesg_restrict=1) it must
// say why it cannot.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultRegistry } from "../../src/perf/collect-command.ts";
import { DEFAULT_HOST_PATHS, type HostPaths, type MetricEvent } from "../../src/perf/collector.ts";
import { KernelCollector, kernelLogGaps, kmsgAccess } from "../../src/perf/collectors/kernel.ts";
import type { KmsgRecord } from "../../src/perf/parsers/kmsg.ts";

const EMPTY_DEV = fs.mkdtempSync(path.join(os.tmpdir(), "kmsg-fallback-"));
fs.chmodSync(EMPTY_DEV, 0o755); // the unprivileged child looks into it too
const FALLBACK: HostPaths = { ...DEFAULT_HOST_PATHS, dev: EMPTY_DEV };
const SRC = path.resolve(import.meta.dir, "../../src");

afterAll(() => fs.rmSync(EMPTY_DEV, { recursive: true, force: true }));

let n = 0;
/** Writes one record to the kernel log through /dev/kmsg (one open per line: writes are rate-limited per open file). */
function writeKmsg(prio: number): string {
  const marker = `antimetal-test-${process.pid}-${Date.now()}-${n++}`;
  fs.writeFileSync("/dev/kmsg", `<${prio}>${marker}\n`);
  return marker;
}

const key = (r: KmsgRecord) => `${r.timestamp} ${r.severity} ${r.message}`;

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await Bun.sleep(20);
}

test("<dev>/kmsg missing: the registry picks syslog(2) and keeps the collector available; /dev/kmsg itself is used when it opens", async () => {
  expect(kmsgAccess(FALLBACK)).toBe("syslog");
  expect(kmsgAccess(DEFAULT_HOST_PATHS)).toBe("kmsg");
  expect((await defaultRegistry(FALLBACK)).status("kernel")).toEqual({ available: true, reason: "available" });
});

test("point mode through syslog(2): the last 50 records, the new one equal to what /dev/kmsg gives but for the sequence number", async () => {
  const marker = writeKmsg(6);
  const fallback = new KernelCollector(FALLBACK);
  const direct = new KernelCollector(DEFAULT_HOST_PATHS, { kmsgLimit: 100000 });
  try {
    const recs = await fallback.collect(AbortSignal.timeout(5000));
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.length).toBeLessThanOrEqual(50);
    const viaSyslog = recs.filter((r) => r.message === marker);
    const viaKmsg = (await direct.collect(AbortSignal.timeout(5000))).filter((r) => r.message === marker);
    expect(viaKmsg.length).toBe(1);
    expect(viaKmsg[0]!.sequence_num).toBeGreaterThan(0n);
    // Written by a user process without a facility: LOG_USER (1), severity 6; same time to the microsecond.
    expect(viaSyslog).toEqual([{ ...viaKmsg[0]!, sequence_num: 0n }]);
    expect(viaSyslog[0]!.facility).toBe(1);
    expect(Math.abs(Date.parse(viaSyslog[0]!.timestamp) - Date.now())).toBeLessThan(5000);
    // Every record read this way has sequence number 0, and the ring's order is kept.
    expect(recs.every((r) => r.sequence_num === 0n)).toBe(true);
    const times = recs.map((r) => Date.parse(r.timestamp));
    expect(times[times.length - 1]!).toBeGreaterThanOrEqual(times[0]!);
    // A second collection sees the next record as well (the ring is read again, not consumed).
    const next = writeKmsg(3);
    const again = await fallback.collect(AbortSignal.timeout(5000));
    expect(again.filter((r) => r.message === marker || r.message === next).map((r) => r.severity)).toEqual([6, 3]);
  } finally {
    await fallback.stop();
    await direct.stop();
  }
});

test("follow mode through syslog(2): the existing records once, then each new record exactly once, none lost", async () => {
  const gaps0 = (await kernelLogGaps.get()).values[0]?.value ?? 0;
  const c = new KernelCollector(FALLBACK, { kmsgPollMs: 50 });
  const got: KmsgRecord[] = [];
  const before = writeKmsg(6);
  await c.start((e: MetricEvent) => {
    expect([e.metricType, e.eventType]).toEqual(["kernel", "event"]);
    got.push(e.data as KmsgRecord);
  });
  const markers: string[] = [];
  try {
    // The initial dump has the record written before: at once, or over the next polls when the ring holds more
    // records than one poll hands out (a long-lived machine's full kernel log).
    await until(() => got.some((r) => r.message === before));
    expect(got.filter((r) => r.message === before).length).toBe(1);
    const initial = got.length;
    markers.push(writeKmsg(4));
    await until(() => got.some((r) => r.message === markers[0]));
    // Several records between two polls, and a few polls with nothing new.
    markers.push(writeKmsg(5), writeKmsg(6), writeKmsg(7));
    await until(() => markers.every((m) => got.some((r) => r.message === m)));
    await Bun.sleep(200);
    expect(got.length).toBeGreaterThan(initial);
  } finally {
    await c.stop();
  }
  expect(markers.map((m) => got.filter((r) => r.message === m).map((r) => r.severity))).toEqual([[4], [5], [6], [7]]);
  // Nothing emitted twice.
  expect(new Set(got.map(key)).size).toBe(got.length);
  expect(got.every((r) => r.sequence_num === 0n)).toBe(true);
  // Nothing lost: every record in the ring up to the last marker was emitted.
  const last = got.find((r) => r.message === markers[3])!;
  const ring = await new KernelCollector(FALLBACK, { kmsgLimit: 1000000 }).collect(AbortSignal.timeout(5000));
  const upTo = ring.slice(0, ring.findIndex((r) => r.message === markers[3]) + 1);
  expect(upTo.at(-1)).toEqual(last);
  const emitted = new Set(got.map(key));
  expect(upTo.filter((r) => !emitted.has(key(r)))).toEqual([]);
  expect((await kernelLogGaps.get()).values[0]?.value ?? 0).toBe(gaps0);
});

test("without CAP_SYSLOG (kernel.dmesg_restrict=1): unavailable with the reason, for /dev/kmsg and for the fallback", () => {
  const restrictFile = "/proc/sys/kernel/dmesg_restrict";
  const saved = fs.readFileSync(restrictFile, "utf8").trim();
  if (saved !== "1") fs.writeFileSync(restrictFile, "1\n");
  try {
    const script = `
      const { kmsgAccess, KernelCollector } = await import(${JSON.stringify(`${SRC}/perf/collectors/kernel.ts`)});
      const { createCollectorRegistry } = await import(${JSON.stringify(`${SRC}/perf/registry.ts`)});
      const { defaultRegistry } = await import(${JSON.stringify(`${SRC}/perf/collect-command.ts`)});
      const paths = { proc: "/proc", sys: "/sys", dev: "/dev", etc: "/etc", var: "/var" };
      const empty = { ...paths, dev: ${JSON.stringify(EMPTY_DEV)} };
      const allCaps = (1n << 41n) - 1n;
      const kernel = { raw: "6.1.0", major: 6, minor: 1, patch: 0 };
      const c = new KernelCollector(empty);
      let follow = "started";
      try { await c.start(() => {}); } catch (e) { follow = e.message; }
      await c.stop();
      console.log(JSON.stringify({
        dev: kmsgAccess(paths),
        empty: kmsgAccess(empty),
        // A process that has CAP_SYSLOG as far as the capability check knows, but cannot read the log.
        registry: createCollectorRegistry(paths, { capabilities: allCaps, kernel }).status("kernel"),
        real: (await defaultRegistry(paths)).status("kernel"),
        point: (await new KernelCollector(empty).collect(AbortSignal.timeout(5000))).length,
        follow,
      }));`;
    const r = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "env",
        "-i",
        "TMPDIR=/tmp",
        process.execPath,
        "-e",
        script,
      ],
      { encoding: "utf8", timeout: 30000 },
    );
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    const denied = /^cannot open \/dev\/kmsg \((EPERM|EACCES)\) and syslog\(2\) denied \(EPERM\): needs CAP_SYSLOG$/;
    expect(out.dev).toMatch(denied);
    expect(out.empty).toBe(`cannot open ${EMPTY_DEV}/kmsg (ENOENT) and syslog(2) denied (EPERM): needs CAP_SYSLOG`);
    expect(out.registry).toEqual({ available: false, reason: out.dev });
    expect(out.real).toEqual({ available: false, reason: "missing capability: CAP_SYSLOG" });
    expect(out.point).toBe(0);
    expect(out.follow).toBe(out.empty);
  } finally {
    if (saved !== "1") fs.writeFileSync(restrictFile, `${saved}\n`);
  }
  expect(fs.readFileSync(restrictFile, "utf8").trim()).toBe(saved);
});
