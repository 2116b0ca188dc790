// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The service graph end to end: real kernel (tcpflow), real kube-apiserver (Pods and a Service
 * whose IPs this test gives to two network namespaces), real store. The client namespace holds
 * Pod client-0's IPs; the server namespace holds Pod server-0's IPv4 and Service web's ClusterIP,
 * and the server process sits in a cgroup named like kubelet's for server-0's UID. Connections to
 * server-0's IP, to the ClusterIP and to an IPv6 address outside the cluster become
 * client-0 RoutesTo server-0 (one relationship, seen from both ends), client-0 RoutesTo web, and
 * client-0 RoutesTo an ExternalEndpoint /64, each with its RoutedFrom, on the instance channel;
 * with nothing open, the edges expire after the TTL. The Kubernetes graph's own RoutesTo (Service
 * -> Pod from an EndpointSlice) stays on the cluster channel and is never expired.
 */

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import type { KubeController } from "../../src/kube/controller.ts";
import { EXTERNAL_ENDPOINT_TYPE, type NetgraphComponent, registerNetgraphMetrics } from "../../src/netgraph/index.ts";
import type { Relationship } from "../../src/proto/gen/resource/v1/relationship_pb.ts";
import type { SqliteStore } from "../../src/store/index.ts";
import type { KubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, eventually, kreq } from "../kube/fixtures.ts";
import { type FlowConnection, podWithIps, runFlowClient, startAgentSide, startCluster, startFlowServer, stopAgentSide } from "./cluster.ts";
import { makeNetnsPair, type NetnsPair } from "./netns.ts";

const N = 20;
const TTL_MS = 4000;

let env: KubeTestEnv;
let store: SqliteStore;
let ctl: KubeController;
let ng: NetgraphComponent;
let ns: NetnsPair;
let server: ReturnType<typeof Bun.spawn> | undefined;
let cgroupDir = "";
let clusterIp = "";
let serverUid = "";
let conns: FlowConnection[] = [];

function cgroup2Mount(): string {
  return Bun.spawnSync(["findmnt", "-n", "-t", "cgroup2", "-o", "TARGET"]).stdout.toString().trim().split("\n")[0]!;
}

beforeAll(async () => {
  env = await startCluster();
  ns = makeNetnsPair("ng");
  clusterIp = `10.96.${1 + (process.pid % 250)}.10`;
  await podWithIps(env, "ng-node", "client-0", [ns.v4b, ns.v6b]);
  serverUid = await podWithIps(env, "ng-node", "server-0", [ns.v4a]);
  await kreq(env, "POST", "/api/v1/namespaces/default/services", {
    metadata: { name: "web" },
    spec: { clusterIP: clusterIp, selector: { app: "web" }, ports: [{ port: 80 }] },
  });

  // The Kubernetes graph's own RoutesTo (Service web -> Pod server-0, from this EndpointSlice) must be left alone.
  await api.endpointSlice(env, "default", "web-abc", "web", ["server-0"]);
  ({ store, ctl, ng } = await startAgentSide(env, "ng-node", { ttlMs: TTL_MS, sweepMs: 200 }));
  await eventually(
    "index has the pods and the service",
    () => ng.index.byAddress(clusterIp)?.ref.name === "web" && ng.index.podByUid(serverUid) !== undefined,
  );

  // The ClusterIP lives in the server namespace (no kube-proxy here), routed from the client's.
  Bun.spawnSync(["ip", "-n", ns.a, "addr", "add", `${clusterIp}/32`, "dev", `vng${process.pid}a`.slice(0, 15)]);
  Bun.spawnSync(["ip", "-n", ns.b, "route", "add", `${clusterIp}/32`, "dev", `vng${process.pid}b`.slice(0, 15)]);

  let port: number;
  ({ server, port } = await startFlowServer(ns, [ns.v4a, clusterIp, ns.v6a]));
  // kubelet's systemd layout: kubepods-besteffort-pod<uid with underscores>.slice
  cgroupDir = join(cgroup2Mount(), `am-ng${process.pid}`, `kubepods-besteffort-pod${serverUid.replaceAll("-", "_")}.slice`);
  mkdirSync(cgroupDir, { recursive: true });
  writeFileSync(join(cgroupDir, "cgroup.procs"), String(server.pid));
  conns = await runFlowClient(ns, port, N, 4, [ns.v4a, clusterIp, ns.v6a]);
}, 120_000);

afterAll(async () => {
  server?.kill();
  await server?.exited;
  await stopAgentSide({ ng, ctl, store });
  await env?.stop();
  ns?.remove();
  if (cgroupDir) {
    rmdirSync(cgroupDir);
    rmdirSync(join(cgroupDir, ".."));
  }
});

function names(rels: Relationship[]): string[] {
  return rels.map((r) => `${r.subject?.name} ${r.type?.type} ${r.object?.name}`).sort();
}

function routing(): string[] {
  return [
    ...names(store.findRelationships({ predicate: "network.v1.RoutesTo" })),
    ...names(store.findRelationships({ predicate: "network.v1.RoutedFrom" })),
  ].sort();
}

test("connections become RoutesTo/RoutedFrom edges between the right workloads, one per edge, on the instance channel", async () => {
  expect(conns).toHaveLength(3 * N);
  const external = `${ns.v6a.split("::")[0]}::/64`;
  const want = [
    `client-0 antimetal.network.v1.RoutesTo ${external}`,
    "client-0 antimetal.network.v1.RoutesTo server-0",
    "client-0 antimetal.network.v1.RoutesTo web",
    `${external} antimetal.network.v1.RoutedFrom client-0`,
    "server-0 antimetal.network.v1.RoutedFrom client-0",
    "web antimetal.network.v1.RoutedFrom client-0",
    // the Kubernetes graph's, from the EndpointSlice
    "server-0 network.v1.RoutedFrom web",
    "web network.v1.RoutesTo server-0",
  ].sort();
  await eventually("edges in the store", () => JSON.stringify(routing()) === JSON.stringify(want), TTL_MS - 500).catch((e) => {
    console.log(routing(), ng.graph.unattributed, ng.collector.stats());
    throw e;
  });
  expect(routing()).toEqual(want);
  expect(
    store
      .listResources()
      .filter((r) => r.type?.type === EXTERNAL_ENDPOINT_TYPE)
      .map((r) => r.metadata?.name),
  ).toEqual([external]);

  const instance = store.outbox.read("instance", 0, 10_000).map((e) => e.object.type?.type);
  expect(instance.filter((t) => t === "antimetal.network.v1.RoutesTo")).toHaveLength(3);
  expect(instance.filter((t) => t === "antimetal.network.v1.RoutedFrom")).toHaveLength(3);
  expect(instance.filter((t) => t === EXTERNAL_ENDPOINT_TYPE)).toHaveLength(1);
  const cluster = store.outbox.read("cluster", 0, 100_000).map((e) => e.object.type?.type);
  expect(cluster.some((t) => t?.startsWith("antimetal.network."))).toBe(false);
  expect(cluster.filter((t) => t === "network.v1.RoutesTo")).toHaveLength(1); // web -> server-0 stays the leader's

  // Counters: the pod-IP connections were seen from both ends and counted once; the ClusterIP and
  // IPv6 ones reach server-0 from its own end (the client's end names web and the external block).
  const count = (k: string) => ng.graph.edgeList().find(([, e]) => `${e.subject.ref.name}>${e.object.ref.name}` === k)?.[1].connections;
  await eventually("every close counted", () => count("client-0>server-0") === 3 * N && count("client-0>web") === N, TTL_MS - 1000);
  const edges = new Map(ng.graph.edgeList().map(([, e]) => [`${e.subject.ref.name}>${e.object.ref.name}`, e]));
  const sum = (addr: string, k: "sent" | "received") => conns.filter((c) => c.addr === addr).reduce((s, c) => s + c[k], 0);
  expect(edges.get("client-0>server-0")).toMatchObject({
    connections: 3 * N,
    failed: 0,
    open: 0,
    bytesToObject: BigInt(sum(ns.v4a, "sent") + sum(clusterIp, "sent") + sum(ns.v6a, "sent")),
    bytesFromObject: BigInt(sum(ns.v4a, "received") + sum(clusterIp, "received") + sum(ns.v6a, "received")),
  });
  expect(edges.get("client-0>web")).toMatchObject({ connections: N, bytesToObject: BigInt(sum(clusterIp, "sent")) });
  expect(edges.get(`client-0>${external}`)).toMatchObject({ connections: N, bytesFromObject: BigInt(sum(ns.v6a, "received")) });
  expect(edges.get("client-0>server-0")!.firstSeen).toBeLessThanOrEqual(edges.get("client-0>server-0")!.lastSeen);
}, 30_000);

test("/metrics: per-edge connection, byte and failed-connect series for the top N edges, the rest summed as other", async () => {
  const reg = new Registry();
  registerNetgraphMetrics(ng.graph, 2, reg);
  const text = await reg.metrics();
  const external = `${ns.v6a.split("::")[0]}::/64`;
  const v = (name: string, labels: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  const edge = (dst: string, kind: string) => `source="default/client-0",source_kind="pod",destination="${dst}",destination_kind="${kind}"`;
  const other = 'source="other",source_kind="other",destination="other",destination_kind="other"';
  expect(v("antimetal_netgraph_edge_connections", edge("default/server-0", "pod"))).toBe(3 * N);
  expect(v("antimetal_netgraph_edge_connections", edge(external, "external"))).toBe(N);
  expect(v("antimetal_netgraph_edge_connections", other)).toBe(N); // client-0 -> web
  expect(v("antimetal_netgraph_edge_failed_connects", edge("default/server-0", "pod"))).toBe(0);
  const sent = conns.filter((c) => c.addr === clusterIp).reduce((s, c) => s + c.sent, 0);
  expect(v("antimetal_netgraph_edge_bytes", `${other},direction="to_destination"`)).toBe(sent);
  expect(text.match(/^antimetal_netgraph_edge_connections\{/gm)).toHaveLength(3);
  expect(v("antimetal_netgraph_edges", "")).toBeUndefined(); // no labels: printed without braces
  expect(text).toContain("antimetal_netgraph_edges 3");
  expect(text).toContain("antimetal_netgraph_edges_exported 2");
});

test("edges with no traffic for the TTL are deleted, with their ExternalEndpoint", async () => {
  await eventually("edges expired", () => store.findRelationships({ predicate: "network.v1.RoutesTo" }).length === 1, TTL_MS + 5000);
  expect(routing()).toEqual(["server-0 network.v1.RoutedFrom web", "web network.v1.RoutesTo server-0"]);
  expect(store.listResources().filter((r) => r.type?.type === EXTERNAL_ENDPOINT_TYPE)).toEqual([]);
  expect(ng.graph.edgeList()).toEqual([]);
}, 20_000);
