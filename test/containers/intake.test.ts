// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph reaches the intake (the test intake server, gRPC over TLS) on the instance stream,
// from a non-leader agent, Pod links included; a container that goes away disappears upstream with
// its processes and relationships.

import { afterAll, beforeAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { createRuntimeGraphComponent } from "../../src/containers/index.ts";
import { kubeNamespace, newResource } from "../../src/graph/build.ts";
import { withHostGraphChannels } from "../../src/hostgraph/index.ts";
import { HostIo } from "../../src/perf/io.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import { defaultClassifier, openStore } from "../../src/store/index.ts";
import { intake } from "../intake/common.ts";
import { IntakeServer, makePki, type Pki, waitFor } from "../intake/harness.ts";
import { copyFixture, silentLogger } from "./helpers.ts";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
}, 30_000);
afterAll(() => pki.cleanup());

test("a non-leader agent uploads its containers, processes and Pod links on the instance stream; a removed container disappears upstream", async () => {
  const srv = await IntakeServer.start({ pki, apiKey: "k" });
  const fx = copyFixture("v2-systemd");
  const store = openStore({ dataDirectory: "", logger: silentLogger, classify: withHostGraphChannels(defaultClassifier) });
  try {
    // The Pod as the leader stored it (this agent is not the leader: the cluster stream is not its to send).
    store.updateResource(
      newResource({
        type: "k8s.io.api.core.v1.Pod",
        metadata: {
          provider: Provider.KUBERNETES,
          providerId: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
          name: "api-7d4f8bd9c-abc12",
          namespace: kubeNamespace("c1", "prod"),
        },
      }),
    );
    const rg = createRuntimeGraphComponent({
      store,
      paths: fx.paths,
      intervalMs: 3_600_000,
      systemName: async () => "host-1",
      logger: silentLogger,
      io: new HostIo(fx.paths.sys, 4, fx.paths.proc),
    });
    const first = await rg.refresh();
    expect(store.outbox.stats("cluster").depth).toBe(1); // the Pod only
    expect(store.outbox.stats("instance").depth).toBe(first.containers + first.processes + first.relationships);

    const c = intake({ address: `localhost:${srv.port}`, apiKey: "k", caFile: pki.ca, store, logger: silentLogger, isLeader: () => false });
    await c.start();
    await waitFor("instance channel drained", () => store.outbox.stats("instance").depth === 0, 20_000);
    let st = await srv.state();
    expect(st.invalid).toBe(0);
    const runtime = st.live.filter((l) => l.key.startsWith("antimetal.runtime.v1."));
    const resources = runtime.filter((l) => !l.name.includes("->"));
    expect(resources.length).toBe(first.containers + first.processes);
    expect(runtime.length - resources.length).toBe(first.relationships);
    const names = new Set(st.live.map((l) => l.name));
    const docker = "a1".repeat(32);
    const cri = "b2".repeat(32);
    expect(names.has(docker)).toBe(true);
    expect(names.has(`api-7d4f8bd9c-abc12->${cri}`)).toBe(true); // Pod Contains container
    expect(names.has(`${cri}->api-7d4f8bd9c-abc12`)).toBe(true); // container ContainedBy Pod
    expect(names.has("api-7d4f8bd9c-abc12")).toBe(false); // the Pod itself is the leader's to send

    fs.rmSync(path.join(fx.root, "sys/fs/cgroup/system.slice", `docker-${docker}.scope`), { recursive: true });
    for (const pid of ["1000", "1001"]) fs.rmSync(path.join(fx.root, "proc", pid), { recursive: true });
    const r = await rg.refresh();
    expect(r.deleted).toBe(3);
    await waitFor("deletes sent", () => store.outbox.stats("instance").depth === 0, 20_000);
    st = await srv.state();
    const after = [...new Set(st.live.map((l) => l.name))];
    expect(after.filter((n) => n.includes(docker) || /\b100[01]\b/.test(n))).toEqual([]);
    expect(after).toContain(cri);
    await c.stop(AbortSignal.timeout(5000));
  } finally {
    store.close();
    fx.cleanup();
    await srv.kill();
  }
}, 60_000);
