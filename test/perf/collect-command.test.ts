// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of one-shot `collect` over fixture trees: exact u64 JSON, errors keyed by type, unavailable
// collectors, external registration, a stuck read timing out alone, and the standalone entry point.

import { afterAll, expect, test } from "bun:test";
import { runCollect } from "../../src/perf/collect-command.ts";
import { HostIo } from "../../src/perf/io.ts";
import { createCollectorRegistry } from "../../src/perf/registry.ts";
import { parseKernelVersion } from "../../src/system/kernel-version.ts";
import { cleanupTrees, makeTree, pathsFor, sample } from "./tree.ts";

afterAll(cleanupTrees);

const ALL_CAPS = (1n << 41n) - 1n;
const kernel = parseKernelVersion("6.1.0");

test("fixture tree: exact u64 integers in the JSON text, errors keyed by type, exit 1 on failure", async () => {
  const root = makeTree({
    "proc/stat": "cpu 1 2 3 4 5 6 7 8 9 10\nintr 18446744073709551615\nctxt 5\nbtime 1\n",
    "proc/meminfo": "MemTotal: 18446744073709551615 kB\n",
    "proc/net/dev": sample("net_dev"),
  });
  const paths = pathsFor(root);
  const registry = createCollectorRegistry(paths, { capabilities: ALL_CAPS, kernel });
  const { output, exitCode } = await runCollect({
    paths,
    format: "json",
    registry,
    collectors: ["system", "memory", "cpu", "load", "network"],
    sampleGapMs: 150,
  });
  expect(output).toContain('"interrupts": 18446744073709551615');
  expect(output).toContain('"mem_total": 18446744073709550592');
  expect(output).toContain('"rx_bytes": 9876543210');
  const j = JSON.parse(output);
  expect(Object.keys(j)).toEqual(["cpu", "memory", "system", "network", "errors"]);
  expect(j.errors.load).toContain("loadavg");
  expect(j.errors.load).toContain("no such file or directory");
  expect(j.system.delta.interrupts).toBe(0);
  expect(exitCode).toBe(1);
});

test("unavailable collectors are reported with the reason; not a failure unless requested", async () => {
  const root = makeTree({ "proc/loadavg": "1 1 1 1/1 1\n" });
  const paths = pathsFor(root);
  const registry = createCollectorRegistry(paths, { capabilities: 0n, kernel: parseKernelVersion("3.2.0") });
  expect(registry.status("kernel")).toEqual({
    available: false,
    reason: "missing capability: CAP_SYSLOG; kernel 3.2.0 is older than the required 3.5.0",
  });
  expect(registry.status("execsnoop").reason).toBe("not found");
  const requested = await runCollect({ paths, format: "json", registry, collectors: ["load", "kernel"] });
  expect(JSON.parse(requested.output).errors.kernel).toContain("missing capability: CAP_SYSLOG");
  expect(requested.exitCode).toBe(1);
  const one = await runCollect({ paths, format: "json", registry, collectors: ["load"] });
  expect(one.exitCode).toBe(0);
  expect(JSON.parse(one.output)).toEqual({
    load: { load_1min: 1, load_5min: 1, load_15min: 1, running_procs: 1, total_procs: 1, blocked_procs: 0, last_pid: 1, uptime: 0 },
  });
});

test("a relative host path makes every collector unavailable with the original's message", async () => {
  const registry = createCollectorRegistry(
    { proc: "proc", sys: "/sys", dev: "/dev", etc: "/etc", var: "/var" },
    { capabilities: ALL_CAPS, kernel },
  );
  expect(registry.status("cpu").reason).toBe('HostProcPath must be an absolute path, got: "proc"');
  expect(registry.status("disk_info").reason).toBe('HostProcPath must be an absolute path, got: "proc"');
});

test("registerExternal adds execsnoop with capability checks; duplicates throw", () => {
  const registry = createCollectorRegistry(pathsFor("/x"), { capabilities: 0n, kernel });
  const spec = {
    type: "execsnoop" as const,
    name: "execsnoop",
    point: false,
    continuous: true,
    requiredCapabilities: ["CAP_BPF" as const, "CAP_PERFMON" as const],
    minKernel: "5.8",
  };
  const e = registry.registerExternal({ spec, create: () => ({ spec, start: async () => {}, stop: async () => {} }) });
  expect(e.reason).toBe("missing capability: CAP_BPF; missing capability: CAP_PERFMON");
  expect(() => registry.registerExternal({ spec, create: () => ({ spec, start: async () => {}, stop: async () => {} }) })).toThrow(
    "already registered",
  );
});

test("a stuck read (FIFO without writer) times out that collector only", async () => {
  const fs = await import("node:fs");
  const root = makeTree({ "proc/stat": "cpu 1 2 3 4 5 6 7\n" });
  fs.mkdirSync(`${root}/proc`, { recursive: true });
  const { execFileSync } = await import("node:child_process");
  execFileSync("mkfifo", [`${root}/proc/loadavg`]);
  const paths = pathsFor(root);
  // a blocking open of the FIFO stands in for a hung mount (by default FIFOs are refused unread, below)
  const io = new HostIo(paths.sys, 4, paths.proc, { regularOnly: false });
  const registry = createCollectorRegistry(paths, { capabilities: ALL_CAPS, kernel }, { io });
  try {
    const t0 = performance.now();
    const { output } = await runCollect({ paths, format: "json", registry, collectors: ["load", "cpu"], timeoutMs: 300, sampleGapMs: 0 });
    expect(performance.now() - t0).toBeLessThan(2000);
    const j = JSON.parse(output);
    expect(j.errors.load).toBe(`timed out after 300 ms (waiting on read ${root}/proc/loadavg)`);
    expect(j.cpu[0].user).toBe(1);
  } finally {
    const fd = fs.openSync(`${root}/proc/loadavg`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.closeSync(fd);
  }
});

test("FIFOs in place of host files: those collectors fail at once naming the file, the others print", async () => {
  const fs = await import("node:fs");
  const { execFileSync } = await import("node:child_process");
  const root = makeTree({ "proc/stat": "cpu 1 2 3 4 5 6 7\n", "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n" });
  execFileSync("mkfifo", [`${root}/proc/meminfo`]);
  execFileSync("mkfifo", [`${root}/proc/diskstats`]);
  const paths = pathsFor(root);
  const registry = createCollectorRegistry(paths, { capabilities: ALL_CAPS, kernel });
  const t0 = performance.now();
  const { output, exitCode } = await runCollect({
    paths,
    format: "json",
    registry,
    collectors: ["load", "cpu", "memory", "disk"],
    sampleGapMs: 0,
  });
  expect(performance.now() - t0).toBeLessThan(2000);
  const j = JSON.parse(output);
  expect(j.errors.memory).toContain(`${root}/proc/meminfo is a fifo, not a regular file`);
  expect(j.errors.disk).toContain(`${root}/proc/diskstats is a fifo, not a regular file`);
  expect(j.load.last_pid).toBe(12345);
  expect(j.cpu[0].user).toBe(1);
  expect(exitCode).toBe(1);
  expect(fs.statSync(`${root}/proc/meminfo`).isFIFO()).toBe(true);
});

test("the standalone entry point prints JSON for --collectors with HOST_PROC", async () => {
  const root = makeTree({ "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n" });
  const p = Bun.spawnSync(
    [process.execPath, new URL("../../src/perf/collect-command.ts", import.meta.url).pathname, "--collectors", "load"],
    { env: { ...process.env, HOST_PROC: `${root}/proc` } },
  );
  expect(p.exitCode).toBe(0);
  expect(JSON.parse(p.stdout.toString()).load.last_pid).toBe(12345);
});
