// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The measured side of bench/kube: the kube controller writing into a file-backed SQLite store,
 * in its own process so RSS and CPU are its own. Prints JSON lines on stdout:
 *   {"type":"idle", rssBytes}                       after imports + store open, before any sync
 *   {"type":"synced", ms, cpuUs, rssBytes, ...}      once every kind listed and the graph is written
 *   {"type":"commit", name, seq, t}                 per pod update committed (seq = label "seq")
 * Usage: bun bench/kube/agent.ts <kubeconfig> <data dir>
 */

import { create, fromBinary } from "@bufbuild/protobuf";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { createKubeController } from "../../src/kube/controller.ts";
import { loadKubeconfig } from "../../src/kube/client/config.ts";
import { ResourceSchema } from "../../src/proto/gen/resource/v1/resource_pb.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";

const [kubeconfig, dataDir] = process.argv.slice(2) as [string, string];
const logger = createLogger({ level: "warn" });
const store = openStore({ dataDirectory: dataDir, logger });
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

function rss(): number {
  Bun.gc(true);
  return process.memoryUsage().rss;
}

out({ type: "idle", rssBytes: rss() });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const ctl = createKubeController({ config: loadKubeconfig([kubeconfig]), store, logger, leaderElect: false, provider: "generic", providerOptions: { clusterName: "bench" } });
await ctl.start();
await ctl.synced();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const pods = store.listResources([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })]).length;
const dbFile = fs.readdirSync(path.join(dataDir, "resource")).map((f) => fs.statSync(path.join(dataDir, "resource", f)).size);
out({
  type: "synced",
  ms,
  cpuUs: cpu.user + cpu.system,
  rssBytes: rss(),
  heapBytes: process.memoryUsage().heapUsed,
  pods,
  storeBytes: dbFile.reduce((a, b) => a + b, 0),
});

// steady state: let the allocator return what the sync's transient garbage used
await Bun.sleep(5000);
out({ type: "settled", rssBytes: rss(), heapBytes: process.memoryUsage().heapUsed });

store.subscribe([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })], (ev) => {
  if (ev.type !== "UPDATE") return;
  const t = performance.timeOrigin + performance.now();
  for (const o of ev.objs) {
    const r = fromBinary(ResourceSchema, o.object!.value);
    const seq = r.metadata?.tags.find((x) => x.key === "seq")?.value;
    if (seq) out({ type: "commit", name: r.metadata!.name, seq, t });
  }
});

process.on("SIGTERM", () => {
  out({ type: "final", rssBytes: rss(), cpuUs: process.cpuUsage().user + process.cpuUsage().system });
  void ctl.stop(AbortSignal.timeout(5000)).then(() => {
    store.close();
    process.exit(0);
  });
});
