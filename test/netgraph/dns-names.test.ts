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
import { join } from "node:path";
import { withHostGraphChannels } from "../../src/hostgraph/index.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController, type KubeController } from "../../src/kube/controller.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createNetgraphComponent, EXTERNAL_ENDPOINT_TYPE, externalBlock, type NetgraphComponent } from "../../src/netgraph/index.ts";
import { defaultClassifier, openStore, type SqliteStore } from "../../src/store/index.ts";
import { startTestDnsServer, type TestDnsServer } from "../helpers/dns-server.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, eventually, kreq } from "../kube/fixtures.ts";
import { lines, makeNetnsPair, type NetnsPair } from "./netns.ts";

const BUN = process.execPath;
const FIX = join(import.meta.dir, "fixtures");
const N = 5;

let env: KubeTestEnv;
let dns: TestDnsServer;
let store: SqliteStore;
let ctl: KubeController;
let ng: NetgraphComponent;
let ns: NetnsPair;
let server: ReturnType<typeof Bun.spawn> | undefined;
let port = 0;

async function connect(n: number): Promise<void> {
  const client = Bun.spawn(ns.exec(ns.b, [BUN, join(FIX, "flow-client.ts"), String(port), String(n), "3", ns.v4a]), {
    stdout: "pipe",
    stderr: "inherit",
  });
  for await (const _ of lines(client.stdout as ReadableStream<Uint8Array>));
  expect(await client.exited).toBe(0);
}

const edgeTo = (name: string) => ng.graph.edgeList().find(([, e]) => e.subject.ref.name === "client-0" && e.object.ref.name === name)?.[1];

beforeAll(async () => {
  expect(process.getuid?.()).toBe(0);
  env = await startKubeTestEnv();
  ns = makeNetnsPair("dn");
  dns = await startTestDnsServer({ "db.example.test": [ns.v4a] });
  const pod = await api.pod(env, "default", "client-0", { node: "dn-node" });
  pod.status = { ...(pod.status ?? {}), podIP: ns.v4b, podIPs: [{ ip: ns.v4b }] };
  await kreq(env, "PUT", "/api/v1/namespaces/default/pods/client-0/status", pod);
  await kreq(env, "POST", "/api/v1/namespaces/default/services", {
    metadata: { name: "db" },
    spec: { type: "ExternalName", externalName: "db.example.test." },
  });
  server = Bun.spawn(ns.exec(ns.a, [BUN, join(FIX, "flow-server.ts"), ns.v4a]), { stdout: "pipe", stderr: "inherit" });
  port = JSON.parse(String((await lines(server.stdout as ReadableStream<Uint8Array>).next()).value)).port as number;

  store = openStore({ dataDirectory: "", logger: silentLogger, classify: withHostGraphChannels(defaultClassifier) });
  ctl = createKubeController({
    config: await loadKubeconfig([env.kubeconfigPath]),
    store,
    logger: silentLogger,
    leaderElect: false,
    nodeName: "dn-node",
  });
  await ctl.start();
  await ctl.synced();
  ng = createNetgraphComponent({
    store,
    nodeName: "dn-node",
    ttlMs: 60_000,
    logger: silentLogger,
    registerMetrics: false,
    dnsServers: [dns.address],
  });
  await ng.start();
}, 120_000);

afterAll(async () => {
  server?.kill();
  await server?.exited;
  await ng?.stop();
  await ctl?.stop(AbortSignal.timeout(10_000));
  store?.close();
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
