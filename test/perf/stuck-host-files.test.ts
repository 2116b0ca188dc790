// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The compiled binary against a HOST_PROC tree where some files are FIFOs (reads that would never
// return): `collect` exits promptly naming them, `run` keeps the other collectors on schedule and
// exits within --shutdown-timeout.

import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { collectionCount, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { cleanupTrees, makeTree, sample } from "./tree.ts";

afterAll(cleanupTrees);

const STAT =
  "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 10 0 10 100 0 0 0 0 0 0\nintr 5\nctxt 6\nbtime 1700000000\nprocs_running 1\nprocs_blocked 0\n";

/** A host tree whose meminfo and diskstats are FIFOs without a writer. */
function treeWithFifos(): string {
  const root = makeTree({
    "proc/stat": STAT,
    "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n",
    "proc/uptime": "100.00 50.00\n",
    "proc/net/dev": sample("net_dev"),
    "sys/.keep": "",
  });
  execFileSync("mkfifo", [`${root}/proc/meminfo`]);
  execFileSync("mkfifo", [`${root}/proc/diskstats`]);
  return root;
}

test("collect exits promptly: the FIFO-backed collectors are under errors naming the file, the others print", () => {
  const root = treeWithFifos();
  const t0 = performance.now();
  const p = Bun.spawnSync([requireBinary(), "collect", "--collectors", "load,cpu,memory,disk,network"], {
    env: { ...process.env, HOST_PROC: `${root}/proc`, HOST_SYS: `${root}/sys` },
    timeout: 20_000,
  });
  expect(performance.now() - t0).toBeLessThan(10_000);
  expect(p.exitCode).toBe(1);
  const j = JSON.parse(p.stdout.toString());
  expect(j.errors.memory).toContain(`${root}/proc/meminfo is a fifo, not a regular file`);
  expect(j.errors.disk).toContain(`${root}/proc/diskstats is a fifo, not a regular file`);
  expect(j.load.last_pid).toBe(12345);
  expect(j.cpu[0].user).toBe(10);
  expect(j.network.length).toBeGreaterThan(0);
});

test("run keeps the other collectors on schedule and exits within --shutdown-timeout on SIGTERM", async () => {
  const root = treeWithFifos();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "stuck-run-"));
  const agent = await startAgent(
    [
      "--data-directory",
      dataDir,
      "--intake-address",
      "",
      "--node-name",
      "node-fifo",
      "--enable-kubernetes-controller=false",
      "--enable-performance-collectors",
      "--enable-hardware-discovery",
      "--performance-collector-interval",
      "300ms",
      "--collectors",
      "load,cpu,memory,disk",
      "--shutdown-timeout",
      "3s",
    ],
    { HOST_PROC: `${root}/proc`, HOST_SYS: `${root}/sys` },
  );
  try {
    const count = (collector: string) => collectionCount(agent, collector);
    await Bun.sleep(1500);
    const loadBefore = await count("load");
    await Bun.sleep(1500);
    // ~5 collections in 1.5 s at 300 ms: the FIFOs hold nothing up
    expect((await count("load")) - loadBefore).toBeGreaterThanOrEqual(3);
    expect(await count("cpu")).toBeGreaterThanOrEqual(3);
    const text = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
    expect(text).toContain('antimetal_collector_up{collector="memory"} 0');
    expect(text).toContain('antimetal_collector_up{collector="load"} 1');
    const failed = agent.logs.find((r) => r.msg?.toString().startsWith("collection failed") && r.collector === "memory");
    expect(String(failed?.err)).toContain("meminfo is a fifo");
    const t0 = performance.now();
    const code = await agent.stop("SIGTERM");
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(code).toBe(0);
    // the host graph was written despite the FIFOs (its hardware collectors name them as errors)
    const st = Bun.spawnSync([
      requireBinary(),
      "store",
      "resources",
      "--type",
      "antimetal.hardware.v1.SystemNode",
      "--data-directory",
      dataDir,
    ]);
    expect(st.exitCode).toBe(0);
    expect(JSON.parse(st.stdout.toString()).count).toBe(1);
    const partial = agent.logs.find((r) => r.component === "hostgraph" && typeof r.errors === "object");
    expect(JSON.stringify(partial?.errors)).toContain("meminfo is a fifo");
  } finally {
    if (agent.proc.exitCode === null) agent.proc.kill("SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
