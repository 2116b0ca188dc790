// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Process churn in a real container: 1000 short execs while the runtime graph scans the live host
// every 200 ms. The short-lived processes never get nodes (the minimum-age policy), the container's
// part of the graph stays at its long-lived processes, and the store writes for the container are the
// few real changes (its node, the shell, the shell's exec into sleep), not one per exec.

import { afterAll, beforeAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { createRuntimeGraphComponent } from "../../src/containers/index.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import type { StoreEvent } from "../../src/store/index.ts";
import { type Containerd, startContainerd } from "./containerd.ts";
import { silentLogger, tempStore } from "./helpers.ts";

let cd: Containerd;
beforeAll(async () => {
  cd = await startContainerd();
}, 60_000);
afterAll(async () => {
  await cd?.stop();
});

test("1000 short execs in a container: bounded graph, store writes proportional to changes", async () => {
  const { store, cleanup } = tempStore();
  try {
    const id = `churn-${process.pid}`;
    const c = createRuntimeGraphComponent({
      store,
      paths: { ...DEFAULT_HOST_PATHS, root: cd.hostRoot },
      intervalMs: 3_600_000,
      systemName: async () => "churn-host",
      logger: silentLogger,
    });
    const events: { type: string; key: string }[] = [];
    store.subscribe([{ kind: "", type: "antimetal.runtime.v1" } as never], (e: StoreEvent) => {
      for (const o of e.objs) {
        if (o.type?.kind !== "resource.v1.Resource" || !o.object) continue;
        const r = fromBinary(ResourceSchema, o.object.value);
        const ns = r.metadata?.namespace?.namespace;
        const mine = r.metadata?.name === id || (ns?.case === "host" && ns.value.container === id);
        if (mine) events.push({ type: e.type, key: `${r.type?.type}/${r.metadata?.name}` });
      }
    });
    const done = path.join(cd.rootfs, "tmp", "done");
    // The shell waits past the minimum age (so it has a node), runs 1000 execs, then execs into sleep.
    cd.run(
      "rt",
      id,
      [],
      ["/bin/sh", "-c", "sleep 6; i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done; : > /tmp/done; exec /bin/sleep 1000"],
    );

    let scans = 0;
    let maxNodes = 0;
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(done)) {
      expect(Date.now()).toBeLessThan(deadline);
      const r = await c.refresh();
      scans++;
      const nodes = store.listResources([{ kind: "", type: "antimetal.runtime.v1.ProcessNode" } as never]).filter((p) => {
        const ns = p.metadata?.namespace?.namespace;
        return ns?.case === "host" && ns.value.container === id;
      });
      maxNodes = Math.max(maxNodes, nodes.length);
      expect(nodes.map((p) => p.metadata?.name).every((n) => Number(n) > 0)).toBe(true);
      expect(r.leftOut.young).toBeGreaterThanOrEqual(0);
      await Bun.sleep(200);
    }
    await Bun.sleep(300);
    await c.refresh(); // the shell is now sleep (same pid, new command and cmdline)
    const final = store
      .listResources([{ kind: "", type: "antimetal.runtime.v1.ProcessNode" } as never])
      .filter((p) => p.metadata?.namespace?.namespace.case === "host" && p.metadata.namespace.namespace.value.container === id);
    expect(scans).toBeGreaterThanOrEqual(5);
    // Bounded: at most the shell and its `sleep 6` ever had nodes; no /bin/true ever did.
    expect(maxNodes).toBeLessThanOrEqual(2);
    expect(final.length).toBe(1);
    // Writes: the container node, the shell (+ the short sleep, which may have reached the minimum age), the shell's exec into sleep.
    const kinds = events.map((e) => e.type);
    expect(kinds.filter((k) => k === "ADD").length).toBeLessThanOrEqual(3);
    expect(kinds.filter((k) => k === "UPDATE").length).toBeLessThanOrEqual(2);
    expect(events.length).toBeLessThanOrEqual(6);
    expect(events.length).toBeLessThan(scans); // not one write per scan, let alone per exec
  } finally {
    cleanup();
  }
}, 120_000);
