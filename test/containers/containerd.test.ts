// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Real containers under a real containerd (runc, this host's cgroups): `antimetal-agent run` publishes
// them and their processes with the right ids, images and limits (`store resources` shows them), and a
// container killed while the agent was down is deleted with its processes and relationships at the next
// start.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hostNamespace } from "../../src/containers/build.ts";
import { resourceRef } from "../../src/graph/build.ts";
import { encodeResourceKey } from "../../src/graph/keys.ts";
import { requireBinary, startAgent } from "../helpers/agent-process.ts";
import { type Containerd, startContainerd } from "./containerd.ts";

let cd: Containerd;
const data = fs.mkdtempSync(path.join(os.tmpdir(), "rt-agent-"));
beforeAll(async () => {
  cd = await startContainerd();
}, 60_000);
afterAll(async () => {
  await cd?.stop();
  fs.rmSync(data, { recursive: true, force: true });
});

interface Stored {
  resource: { metadata: { name: string; namespace?: { host?: { host: string; container?: string } } }; spec: Record<string, unknown> };
}

function store(...args: string[]): { count: number; resources?: Stored[]; relationships?: unknown[] } {
  const r = Bun.spawnSync([requireBinary(), "store", ...args, "--data-directory", data], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  return JSON.parse(r.stdout.toString());
}

async function runOnce(): Promise<Record<string, unknown>> {
  const agent = await startAgent(
    [
      "--data-directory",
      data,
      "--enable-kubernetes-controller=false",
      "--enable-performance-collectors=false",
      "--enable-hardware-discovery=false",
      "--intake-address",
      "",
    ],
    { HOST_ROOT: cd.hostRoot },
  );
  try {
    return await agent.waitForLog((r) => r.msg === "runtime graph published", 30_000);
  } finally {
    expect(await agent.stop()).toBe(0);
  }
}

test("two containers and their processes in the store after `run`; the one killed is deleted at the next start", async () => {
  // A: as containerd's CRI plugin lays out a Kubernetes container (namespace k8s.io, 64-hex id, kubepods cgroup, CRI annotations).
  const a = randomBytes(32).toString("hex");
  const uid = randomUUID();
  const aPid = cd.run(
    "k8s.io",
    a,
    [
      "--cgroup",
      `/kubepods/besteffort/pod${uid}/${a}`,
      "--memory-limit",
      "67108864",
      "--cpu-quota",
      "50000",
      "--cpu-period",
      "100000",
      "--annotation",
      "io.kubernetes.cri.container-type=container",
      "--annotation",
      "io.kubernetes.cri.container-name=app",
      "--annotation",
      "io.kubernetes.cri.image-name=docker.io/library/busybox:1.36",
      "--annotation",
      "io.kubernetes.cri.sandbox-name=app-7d4f8bd9c-abc12",
      "--annotation",
      "io.kubernetes.cri.sandbox-namespace=default",
    ],
    ["/bin/sleep", "1000"],
  );
  // B: plain `ctr run` (namespace rt, cgroup /rt/<id>).
  const b = `web-${process.pid}`;
  const bPid = cd.run("rt", b, ["--cpu-shares", "512", "--memory-limit", "134217728"], ["/bin/sh", "-c", "sleep 1000 & exec sleep 1001"]);
  await Bun.sleep(5500); // the processes' minimum age (docs/runtime-graph.md)

  const first = await runOnce();
  expect(first.containers as number).toBeGreaterThanOrEqual(2);
  const containers = store("resources", "--type", "antimetal.runtime.v1.ContainerNode").resources!;
  const byName = new Map(containers.map((c) => [c.resource.metadata.name, c.resource.spec]));
  expect(byName.get(a)).toMatchObject({
    containerId: a,
    runtime: "CONTAINER_RUNTIME_CRI_CONTAINERD",
    cgroupPath: `/kubepods/besteffort/pod${uid}/${a}`,
    imageName: "busybox",
    imageTag: "1.36",
    cpuQuotaUs: 50000,
    cpuPeriodUs: 100000,
    memoryLimitBytes: "67108864",
    containerName: "app",
    workloadName: "app",
  });
  expect(byName.get(b)).toMatchObject({
    containerId: b,
    runtime: "CONTAINER_RUNTIME_CONTAINERD",
    cgroupPath: `/rt/${b}`,
    cpuShares: 512,
    memoryLimitBytes: "134217728",
  });
  expect(byName.get(b)?.imageName ?? "").toBe(""); // plain containerd keeps the image in its metadata database only

  const processes = store("resources", "--type", "antimetal.runtime.v1.ProcessNode").resources!;
  const inContainer = (id: string) =>
    processes.filter((p) => p.resource.metadata.namespace?.host?.container === id).map((p) => p.resource.spec);
  expect(inContainer(a)).toEqual([expect.objectContaining({ pid: aPid, command: "sleep", cmdline: "/bin/sleep 1000" })]);
  const bProcs = inContainer(b);
  expect(bProcs.map((p) => p.cmdline).sort()).toEqual(["sleep 1000", "sleep 1001"]);
  expect(bProcs.find((p) => p.cmdline === "sleep 1000")).toMatchObject({ ppid: bPid });
  const bKey = containerKey(containers, b);
  expect(store("relationships", "--subject", bKey).count).toBe(3); // ContainedBy SystemNode, Contains x2 processes

  cd.remove("rt", b);
  const second = await runOnce();
  expect(second.deleted as number).toBeGreaterThanOrEqual(3); // B and its two processes
  const after = store("resources", "--type", "antimetal.runtime.v1").resources!;
  expect(after.some((r) => r.resource.metadata.name === b)).toBe(false);
  expect(after.some((r) => r.resource.metadata.namespace?.host?.container === b)).toBe(false);
  expect(after.some((r) => r.resource.metadata.name === a)).toBe(true);
  expect(store("relationships", "--subject", bKey).count).toBe(0);
  expect(store("relationships", "--object", bKey).count).toBe(0);
}, 120_000);

/** The store key of container `id`'s node (its host namespace as stored). */
function containerKey(stored: Stored[], id: string): string {
  const host = stored.find((r) => r.resource.metadata.namespace?.host)!.resource.metadata.namespace!.host!.host;
  return encodeResourceKey(resourceRef("antimetal.runtime.v1.ContainerNode", id, hostNamespace(host)));
}
