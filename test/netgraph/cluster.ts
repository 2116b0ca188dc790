// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The service graph's cluster-backed tests share this: a real kube-apiserver the test fills first,
// then a store, the kube controller (synced) and the netgraph component on top; the flow server
// and client fixtures run in the test's network namespaces.

import { expect } from "bun:test";
import { join } from "node:path";
import { withHostGraphChannels } from "../../src/hostgraph/index.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController, type KubeController } from "../../src/kube/controller.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createNetgraphComponent, type NetgraphComponent, type NetgraphOptions } from "../../src/netgraph/index.ts";
import { defaultClassifier, openStore, type SqliteStore } from "../../src/store/index.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, kreq } from "../kube/fixtures.ts";
import { lines, type NetnsPair } from "./netns.ts";

const BUN = process.execPath;
const FIX = join(import.meta.dir, "fixtures");

export interface FlowConnection {
  addr: string;
  sent: number;
  received: number;
}

export interface NetgraphCluster {
  env: KubeTestEnv;
  store: SqliteStore;
  ctl: KubeController;
  ng: NetgraphComponent;
}

export async function startCluster(): Promise<KubeTestEnv> {
  expect(process.getuid?.()).toBe(0);
  return startKubeTestEnv();
}

/** A Pod on `node` whose status carries `ips` (the first is podIP); its UID. */
export async function podWithIps(env: KubeTestEnv, node: string, name: string, ips: string[]): Promise<string> {
  const pod = await api.pod(env, "default", name, { node });
  pod.status = { ...(pod.status ?? {}), podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) };
  await kreq(env, "PUT", `/api/v1/namespaces/default/pods/${name}/status`, pod);
  return pod.metadata.uid as string;
}

/** The store, the kube controller (synced with what the test put in the cluster) and the netgraph component, started. */
export async function startAgentSide(
  env: KubeTestEnv,
  node: string,
  ngOpts: Partial<NetgraphOptions> = {},
): Promise<Omit<NetgraphCluster, "env">> {
  const store = openStore({ dataDirectory: "", logger: silentLogger, classify: withHostGraphChannels(defaultClassifier) });
  const ctl = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store,
    logger: silentLogger,
    leaderElect: false,
    nodeName: node,
  });
  await ctl.start();
  await ctl.synced();
  const ng = createNetgraphComponent({ store, nodeName: node, ttlMs: 60_000, logger: silentLogger, registerMetrics: false, ...ngOpts });
  await ng.start();
  return { store, ctl, ng };
}

export async function stopAgentSide(c: Partial<Omit<NetgraphCluster, "env">>): Promise<void> {
  await c.ng?.stop();
  await c.ctl?.stop(AbortSignal.timeout(10_000));
  c.store?.close();
}

/** fixtures/flow-server.ts in namespace a, listening on `addrs`; its port. */
export async function startFlowServer(ns: NetnsPair, addrs: string[]): Promise<{ server: ReturnType<typeof Bun.spawn>; port: number }> {
  const server = Bun.spawn(ns.exec(ns.a, [BUN, join(FIX, "flow-server.ts"), ...addrs]), { stdout: "pipe", stderr: "inherit" });
  const port = JSON.parse(String((await lines(server.stdout as ReadableStream<Uint8Array>).next()).value)).port as number;
  return { server, port };
}

/** fixtures/flow-client.ts in namespace b: `n` connections to each of `addrs`, `parallel` at a time; what each sent and received. */
export async function runFlowClient(ns: NetnsPair, port: number, n: number, parallel: number, addrs: string[]): Promise<FlowConnection[]> {
  const client = Bun.spawn(ns.exec(ns.b, [BUN, join(FIX, "flow-client.ts"), String(port), String(n), String(parallel), ...addrs]), {
    stdout: "pipe",
    stderr: "inherit",
  });
  const conns: FlowConnection[] = [];
  for await (const l of lines(client.stdout as ReadableStream<Uint8Array>)) if (l.trim()) conns.push(JSON.parse(l));
  expect(await client.exited).toBe(0);
  return conns;
}
