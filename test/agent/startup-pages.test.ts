// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// --release-startup-pages on the compiled binary and this kernel: once the runtime and host graphs
// have started, the agent's resident file pages drop by megabytes, it goes on serving (the code it
// still runs is read back), and with the flag off nothing is released.

import { expect, test } from "bun:test";
import * as fs from "node:fs";
import { startAgent } from "../helpers/agent-process.ts";

const STANDALONE = ["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false", "--log-level", "debug"];
const residentFileKiB = (pid: number) => Number(/^RssFile:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);

test("after startup the executable's startup pages are released and the agent keeps serving", async () => {
  const agent = await startAgent(STANDALONE);
  try {
    await agent.waitForLog((r) => r.msg === "started in the background" && r.component === "runtime-graph", 30_000);
    const line = await agent.waitForLog((r) => r.msg === "startup pages released", 30_000);
    expect(line.mappings as number).toBeGreaterThan(2);
    expect(line.releasedMiB as number).toBeGreaterThan(4);
    // released after the background starts, not before
    const idx = (msg: string) =>
      agent.logs.findIndex((r) => r.msg === msg && (msg !== "started in the background" || r.component === "runtime-graph"));
    expect(idx("startup pages released")).toBeGreaterThan(idx("started in the background"));
    // Pages still in use fault back in at once (here ~4 MiB by the time this reads them, ~9 MiB within
    // 2 s); what stays released is the point: seconds later the process is still megabytes below its
    // resident file pages before the release.
    await Bun.sleep(2000);
    const beforeKiB = ((line.residentFileMiB as number) + (line.releasedMiB as number)) * 1024;
    expect(residentFileKiB(agent.proc.pid)).toBeLessThan(beforeKiB - 4 * 1024);
    const metrics = await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("antimetal_build_info");
    expect((await fetch(`http://127.0.0.1:${agent.ports.probes}/readyz`)).status).toBe(200);
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}, 60_000);

test("--release-startup-pages=false releases nothing", async () => {
  const agent = await startAgent([...STANDALONE, "--release-startup-pages=false"]);
  try {
    await agent.waitForLog((r) => r.msg === "started in the background" && r.component === "runtime-graph", 30_000);
    await Bun.sleep(1500); // the release would come within milliseconds of the background starts
    expect(agent.logs.filter((r) => typeof r.msg === "string" && r.msg.startsWith("startup pages"))).toEqual([]);
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}, 60_000);
