// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * External peers named by DNS: real kernel (tcpflow), real kube-apiserver, real store, a real DNS
 * server over UDP (test/helpers/dns-server.ts). The server's address is in no Pod, Service, Node or
 * EndpointSlice; ExternalName Service `db` names db.example.test, which the DNS server resolves to
 * it. A client Pod's connections land on ExternalEndpoint "db.example.test" (tag dns_name) instead
 * of its /24; once the Service is deleted, new connections land on the /24 again.
 */

import { afterAll, beforeAll, expect, test } from "bun:test";
import type { KubeController } from "../../src/kube/controller.ts";
import { EXTERNAL_ENDPOINT_TYPE, externalBlock, type NetgraphComponent } from "../../src/netgraph/index.ts";
import type { SqliteStore } from "../../src/store/index.ts";
import { startTestDnsServer, type TestDnsServer } from "../helpers/dns-server.ts";
import type { KubeTestEnv } from "../helpers/kube-testenv.ts";
import { eventually, kreq } from "../kube/fixtures.ts";
import { podWithIps, runFlowClient, startAgentSide, startCluster, startFlowServer, stopAgentSide } from "./cluster.ts";
import { makeNetnsPair, type NetnsPair } from "./netns.ts";

const N = 5;

let env: KubeTestEnv;
let dns: TestDnsServer;
let store: SqliteStore;
let ctl: KubeController;
let ng: NetgraphComponent;
let ns: NetnsPair;
let server: ReturnType<typeof Bun.spawn> | undefined;
let port = 0;

const connect = (n: number) => runFlowClient(ns, port, n, 3, [ns.v4a]);
const edgeTo = (name: string) => ng.graph.edgeList().find(([, e]) => e.subject.ref.name === "client-0" && e.object.ref.name === name)?.[1];

beforeAll(async () => {
  env = await startCluster();
  ns = makeNetnsPair("dn");
  dns = await startTestDnsServer({ "db.example.test": [ns.v4a] });
  await podWithIps(env, "dn-node", "client-0", [ns.v4b]);
  await kreq(env, "POST", "/api/v1/namespaces/default/services", {
    metadata: { name: "db" },
    spec: { type: "ExternalName", externalName: "db.example.test." },
  });
  ({ server, port } = await startFlowServer(ns, [ns.v4a]));
  ({ store, ctl, ng } = await startAgentSide(env, "dn-node", { dnsServers: [dns.address] }));
}, 120_000);

afterAll(async () => {
  server?.kill();
  await server?.exited;
  await stopAgentSide({ ng, ctl, store });
  dns?.close();
  await env?.stop();
  ns?.remove();
});

test("connections to an address an ExternalName Service's DNS name resolves to land on that name's ExternalEndpoint", async () => {
  expect(ng.index.externalNames()).toEqual(["db.example.test"]);
  await eventually("the name resolved", () => ng.externalNames.nameOf(ns.v4a) === "db.example.test");
  await connect(N);
  await eventually("every close counted on the named endpoint", () => edgeTo("db.example.test")?.connections === N);
  expect(edgeTo("db.example.test")?.object.kind).toBe("external");
  expect(edgeTo(externalBlock(ns.v4a, 4))).toBeUndefined();
  const endpoint = store
    .listResources([{ kind: "resource.v1.Resource", type: EXTERNAL_ENDPOINT_TYPE } as never])
    .find((r) => r.metadata?.name === "db.example.test");
  expect(endpoint?.metadata?.tags).toEqual([expect.objectContaining({ key: "dns_name", value: "db.example.test" })]);
  const rels = store
    .findRelationships({ predicate: "network.v1.RoutesTo" })
    .filter((r) => r.type?.type === "antimetal.network.v1.RoutesTo")
    .map((r) => `${r.subject?.name}>${r.object?.name}`);
  expect(rels).toContain("client-0>db.example.test");
}, 30_000);

test("once the Service is gone, the address is its /24 again", async () => {
  await kreq(env, "DELETE", "/api/v1/namespaces/default/services/db");
  await eventually("the name forgotten", () => ng.externalNames.nameOf(ns.v4a) === undefined, 10_000);
  await connect(2);
  await eventually("the /24 edge", () => edgeTo(externalBlock(ns.v4a, 4))?.connections === 2);
}, 30_000);
