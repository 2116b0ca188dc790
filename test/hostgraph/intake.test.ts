// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host graph reaches the test intake server (gRPC over TLS) from an agent that is NOT the
// Kubernetes leader: it goes on the "instance" stream, with the link to the Node, while the
// cluster stream (the Node itself) stays with the leader. A removed disk is deleted upstream too.

import { afterAll, beforeAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { createHardwareCollectors } from "../../src/hostgraph/collect.ts";
import { createHostGraphComponent, withHostGraphChannels } from "../../src/hostgraph/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { defaultClassifier, openStore } from "../../src/store/index.ts";
import { intake } from "../intake/common.ts";
import { IntakeServer, makePki, type Pki, waitFor } from "../intake/harness.ts";
import { copyFixture } from "./helpers.ts";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
}, 30_000);
afterAll(() => pki.cleanup());

test("a non-leader agent uploads its host graph and Node link on the instance stream; a removed disk disappears upstream", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "k" });
  const fx = copyFixture("numa-server");
  const store = openStore({ dataDirectory: "", logger: silentLogger, classify: withHostGraphChannels(defaultClassifier) });
  const sys = "7d2e0b6c94a14f0f8d3a5c1e2b4f6a80";
  try {
    store.updateResource(
      create(ResourceSchema, {
        type: { kind: "resource.v1.Resource", type: "k8s.io.api.core.v1.Node" },
        metadata: {
          provider: Provider.KUBERNETES,
          name: "db-07",
          namespace: { namespace: { case: "kube", value: { cluster: "prod", namespace: "" } } },
        },
        spec: { typeUrl: "k8s.io.api.core.v1.Node", value: new Uint8Array() },
      }),
    );
    const hg = createHostGraphComponent({
      store,
      paths: fx.paths,
      intervalMs: 3_600_000,
      nodeName: "db-07",
      logger: silentLogger,
      collectors: createHardwareCollectors(fx.paths),
    });
    const first = await hg.refresh();
    expect(first.linked).toBe(true);
    expect(store.outbox.stats("cluster").depth).toBe(1); // the Node only
    expect(store.outbox.stats("instance").depth).toBe(first.resources + first.relationships);

    const c = intake({ address: `localhost:${srv.port}`, apiKey: "k", caFile: pki.ca, store, logger: silentLogger, isLeader: () => false });
    await c.start();
    await waitFor("instance channel drained", () => store.outbox.stats("instance").depth === 0, 20_000);
    let st = await srv.state();
    expect(st.invalid).toBe(0);
    const hardware = st.live.filter((l) => l.key.startsWith("antimetal.hardware.v1."));
    const resources = hardware.filter((l) => !l.name.includes("->"));
    expect(resources.length).toBe(first.resources);
    expect(resources.map((l) => l.name)).toContain(`${sys}-disk-nvme0n1`);
    expect(hardware.length - resources.length + st.live.filter((l) => l.key.startsWith("kubernetes.v1.")).length).toBe(first.relationships);
    const names = new Set(st.live.map((l) => l.name));
    expect(names.has(`${sys}->db-07`)).toBe(true); // RegisteredAs
    expect(names.has(`db-07->${sys}`)).toBe(true); // Underlying
    expect(names.has("db-07")).toBe(false); // the Node itself is the leader's to send
    expect(store.outbox.stats("cluster").depth).toBe(1);

    fs.rmSync(path.join(fx.root, "sys", "block", "sda"), { recursive: true });
    const r = await hg.refresh();
    expect(r.deleted).toBe(2);
    await waitFor("deletes sent", () => store.outbox.stats("instance").depth === 0, 20_000);
    st = await srv.state();
    const after = new Set(st.live.map((l) => l.name));
    expect(after.has(`${sys}-disk-sda`)).toBe(false);
    expect(after.has(`${sys}-partition-sda1`)).toBe(false);
    expect([...after].some((n) => n.includes("disk-sda->") || n.includes("->" + `${sys}-disk-sda`))).toBe(false);
    expect(after.has(`${sys}-disk-nvme0n1`)).toBe(true);
    await c.stop(AbortSignal.timeout(5000));
  } finally {
    store.close();
    fx.cleanup();
    await srv.kill();
  }
});
