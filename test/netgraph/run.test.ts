// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * `run --enable-network-graph` (compiled binary): the netgraph component starts, and /metrics
 * carries the tcpflow record and loss counters and the service-graph families.
 */

import { afterAll, expect, test } from "bun:test";
import { connect, createServer } from "node:net";
import { type AgentProcess, startAgent } from "../helpers/agent-process.ts";

let agent: AgentProcess | undefined;

afterAll(async () => {
  await agent?.stop();
});

test("run --enable-network-graph attaches tcpflow and oomkill and exports its counters on /metrics", async () => {
  expect(process.getuid?.()).toBe(0);
  agent = await startAgent([
    "--intake-address",
    "",
    "--enable-kubernetes-controller=false",
    "--enable-performance-collectors=false",
    "--enable-hardware-discovery=false",
    "--data-directory",
    "",
    "--enable-network-graph",
    "--network-graph-ttl",
    "30s",
  ]);
  await agent.waitForLog((r) => r.msg === "service graph on" && r.component === "netgraph");
  await agent.waitForLog((r) => r.msg === "oomkill attached" && r.component === "oomkill");
  const server = createServer((s) => s.end("x"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.on("data", () => {});
      c.on("close", () => resolve());
    });
  }
  server.close();
  const url = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
  let text = "";
  for (let i = 0; i < 50; i++) {
    text = await (await fetch(url)).text();
    const m = /^antimetal_tcpflow_events_total\{kind="close"\} (\d+)/m.exec(text);
    if (m && Number(m[1]) >= 6) break;
    await Bun.sleep(200);
  }
  expect(Number(/^antimetal_tcpflow_events_total\{kind="close"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(6);
  expect(text).toMatch(/^antimetal_tcpflow_lost_total\{reason="ringbuf_full"\} 0$/m);
  expect(text).toMatch(/^antimetal_tcpflow_lost_total\{reason="table_full"\} 0$/m);
  // Loopback flows are not edges; with no Kubernetes there is no workload to attribute to.
  expect(Number(/^antimetal_netgraph_unattributed_flows\{reason="loopback"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(6);
  expect(text).toMatch(/^antimetal_netgraph_edges 0$/m);
  expect(await agent.stop()).toBe(0);
  agent = undefined;
}, 60_000);
