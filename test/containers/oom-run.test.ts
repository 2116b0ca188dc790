// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `run` (compiled binary) attaches the oomkill program for the runtime graph whether or not the service graph
// is on, and exactly once: its own without --enable-network-graph, the service graph's with it.

import { afterEach, expect, test } from "bun:test";
import { type AgentProcess, startAgent, waitForStatus } from "../helpers/agent-process.ts";

let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

const BASE = [
  "--intake-address",
  "",
  "--enable-kubernetes-controller=false",
  "--enable-performance-collectors=false",
  "--enable-hardware-discovery=false",
  "--data-directory",
  "",
  "--enable-container-discovery",
];

for (const netgraph of [false, true])
  test(`container discovery ${netgraph ? "with" : "without"} the service graph: oomkill attached once`, async () => {
    expect(process.getuid?.()).toBe(0);
    agent = await startAgent([...BASE, `--enable-network-graph=${netgraph}`]);
    await agent.waitForLog((r) => r.msg === "runtime graph published");
    await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200, 30_000);
    // the runtime graph starts in the background: its eBPF attaches may follow /readyz
    await agent.waitForLog((r) => r.msg === "started in the background" && r.component === "runtime-graph");
    const attached = agent.logs.filter((r) => r.msg === "oomkill attached" && r.component === "oomkill");
    expect(attached).toHaveLength(1);
    expect(agent.logs.some((r) => r.msg === "runtime graph: OOM kills not recorded on containers")).toBe(false);
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  }, 60_000);
