// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// End to end through the compiled binary: `antimetal-agent run` against a real kube-apiserver and
// the test intake server fills the store with the cluster and host graphs, and `store` prints them.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, requireBinary, startAgent, waitForStatus } from "../helpers/agent-process.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api } from "../kube/fixtures.ts";

let env: KubeTestEnv;
let agent: AgentProcess | undefined;
let dir: string;

beforeAll(async () => {
  env = await startKubeTestEnv();
  dir = mkdtempSync(join(tmpdir(), "agent-e2e-"));
}, 120_000);

afterAll(async () => {
  await agent?.stop("SIGKILL");
  await env?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function store(...args: string[]) {
  const p = Bun.spawn([requireBinary(), "store", ...args, "--data-directory", dir], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`store ${args.join(" ")} exited ${code}: ${err}`);
  return JSON.parse(out);
}

test("run fills the store with the cluster and this host, and stops cleanly", async () => {
  await api.namespace(env, "shop");
  await api.node(env, "node-e2e", { "topology.kubernetes.io/zone": "z1" });
  await api.pod(env, "shop", "web-1", { node: "node-e2e" });

  agent = await startAgent([
    "--kubeconfig",
    env.kubeconfigPath,
    "--kubernetes-provider",
    "generic",
    "--cluster-name",
    "e2e",
    "--data-directory",
    dir,
    "--intake-address",
    "",
    "--node-name",
    "node-e2e",
  ]);
  // Ready means the leader has listed every kind into the store.
  await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200, 60_000);

  const metrics = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
  expect(metrics).toMatch(/antimetal_kube_leader 1/);
  expect(metrics).toContain('antimetal_component_state{component="kube-controller",state="running"} 1');

  const pods = await store("resources", "--type", "k8s.io.api.core.v1.Pod");
  expect(pods.resources.map((r: { resource: { metadata: { name: string } } }) => r.resource.metadata.name)).toEqual(["web-1"]);
  expect(pods.resources[0].resource.metadata.zone).toBe("z1");

  const contains = await store("relationships", "--predicate", "kubernetes.v1.Contains");
  const text = JSON.stringify(contains);
  expect(text).toContain("node-e2e");
  expect(text).toContain("web-1");

  // The host graph starts once the agent is ready: its first inventory lands within seconds.
  let hardware: { count?: number } = {};
  for (const end = Date.now() + 15_000; Date.now() < end && hardware.count !== 1; await Bun.sleep(100))
    hardware = await store("resources", "--type", "antimetal.hardware.v1.SystemNode");
  expect(hardware.count).toBe(1);

  // The host graph links this host to its Node once the controller knows the cluster name.
  const deadline = Date.now() + 15_000;
  let linked: { count?: number; relationships?: unknown[] } = {};
  while (Date.now() < deadline) {
    linked = await store("relationships", "--predicate", "kubernetes.v1.RegisteredAs").catch(() => ({}));
    if ((linked.relationships?.length ?? 0) > 0) break;
    await Bun.sleep(250);
  }
  expect(JSON.stringify(linked)).toContain("node-e2e");

  agent.proc.kill("SIGTERM");
  expect(await agent.proc.exited).toBe(0);
  expect(agent.logs.some((l) => l.msg === "stopped" && l.clean === true)).toBe(true);
}, 120_000);
