// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The service graph through EndpointSlices: real kernel (tcpflow), real kube-apiserver, real store.
 * The server's address is only an endpoint of headless Service `api` (EndpointSlice api-xyz, targetRef
 * Pod api-0, no Pod object at all) and the server process is in no Pod cgroup. A client Pod
 * (client-0, a real Pod object) dials the endpoint directly. Both ends are on this host, so each
 * connection is seen twice: client-0 RoutesTo api-0 (the endpoint's Pod) and client-0 RoutesTo api
 * (the Service whose endpoint was dialled), each counted once per connection. Deleting the slice
 * removes both lookups.
 */

import { afterAll, beforeAll, expect, test } from "bun:test";
import type { KubeController } from "../../src/kube/controller.ts";
import type { NetgraphComponent } from "../../src/netgraph/index.ts";
import type { SqliteStore } from "../../src/store/index.ts";
import type { KubeTestEnv } from "../helpers/kube-testenv.ts";
import { eventually, kreq } from "../kube/fixtures.ts";
import { type FlowConnection, podWithIps, runFlowClient, startAgentSide, startCluster, startFlowServer, stopAgentSide } from "./cluster.ts";
import { makeNetnsPair, type NetnsPair } from "./netns.ts";

const N = 12;

let env: KubeTestEnv;
let store: SqliteStore;
let ctl: KubeController;
let ng: NetgraphComponent;
let ns: NetnsPair;
let server: ReturnType<typeof Bun.spawn> | undefined;
let port = 0;
let conns: FlowConnection[] = [];

beforeAll(async () => {
  env = await startCluster();
  ns = makeNetnsPair("es");
  await podWithIps(env, "es-node", "client-0", [ns.v4b]);
  await kreq(env, "POST", "/api/v1/namespaces/default/services", {
    metadata: { name: "api" },
    spec: { clusterIP: "None", selector: { app: "api" }, ports: [{ port: 8080 }] },
  });
  ({ server, port } = await startFlowServer(ns, [ns.v4a]));
  await kreq(env, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
    metadata: { name: "api-xyz", labels: { "kubernetes.io/service-name": "api" } },
    addressType: "IPv4",
    endpoints: [{ addresses: [ns.v4a], targetRef: { kind: "Pod", namespace: "default", name: "api-0" } }],
    ports: [{ name: "http", port, protocol: "TCP" }],
  });
  ({ store, ctl, ng } = await startAgentSide(env, "es-node"));
  await eventually(
    "index has the client pod and the slice",
    () => ng.index.byAddress(ns.v4b)?.ref.name === "client-0" && ng.index.servicesOfEndpoint(ns.v4a, port).length === 1,
  );
  conns = await runFlowClient(ns, port, N, 3, [ns.v4a]);
}, 120_000);

afterAll(async () => {
  server?.kill();
  await server?.exited;
  await stopAgentSide({ ng, ctl, store });
  await env?.stop();
  ns?.remove();
});

test("an EndpointSlice endpoint names its Pod without a Pod object, and the Service whose endpoint was dialled", async () => {
  expect(conns).toHaveLength(N);
  const t = ng.index.byAddress(ns.v4a);
  expect(t).toMatchObject({ kind: "pod", ref: { name: "api-0" } });
  expect(t?.ref.namespace?.namespace.case === "kube" && t.ref.namespace.namespace.value.namespace).toBe("default");
  expect(ng.index.servicesOfEndpoint(ns.v4a, port).map((s) => s.ref.name)).toEqual(["api"]);
  expect(ng.index.servicesOfEndpoint(ns.v4a, port + 1)).toEqual([]); // another port of that address is not the Service's

  const edge = (k: string) => ng.graph.edgeList().find(([, e]) => `${e.subject.ref.name}>${e.object.ref.name}` === k)?.[1];
  await eventually("every close counted", () => edge("client-0>api-0")?.connections === N && edge("client-0>api")?.connections === N).catch(
    (e) => {
      console.log(
        ng.graph.edgeList().map(([k, x]) => [k, x.connections]),
        ng.graph.unattributed,
        ng.collector.stats(),
      );
      throw e;
    },
  );
  const sent = conns.reduce((s, c) => s + c.sent, 0);
  const received = conns.reduce((s, c) => s + c.received, 0);
  for (const k of ["client-0>api-0", "client-0>api"])
    expect(edge(k)).toMatchObject({ connections: N, failed: 0, open: 0, bytesToObject: BigInt(sent), bytesFromObject: BigInt(received) });
  expect(edge("client-0>api")?.object.kind).toBe("service");
  expect(ng.graph.edgeList()).toHaveLength(2);
  const rels = store
    .findRelationships({ predicate: "network.v1.RoutesTo" })
    .filter((r) => r.type?.type === "antimetal.network.v1.RoutesTo")
    .map((r) => `${r.subject?.name}>${r.object?.name}`)
    .sort();
  expect(rels).toEqual(["client-0>api", "client-0>api-0"]);
}, 30_000);

test("deleting the EndpointSlice removes the endpoint's Pod and Service lookups", async () => {
  await kreq(env, "DELETE", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/api-xyz");
  await eventually(
    "slice gone from the index",
    () => ng.index.byAddress(ns.v4a) === undefined && ng.index.servicesOfEndpoint(ns.v4a, port).length === 0,
  );
  expect(ng.index.byAddress(ns.v4b)?.ref.name).toBe("client-0");
}, 20_000);
