// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The plan's keys are the graph's: every node path is refPath of the resource it builds and every
// edge key is relationshipKey of the relationship it builds (the diff against the store relies on it),
// and signatures change exactly when the built message does (a busy-state move aside).

import { expect, test } from "bun:test";
import { equals } from "@bufbuild/protobuf";
import { resourceRef } from "../graph/build.ts";
import { refPath, relationshipKey, resourceRefOf } from "../graph/keys.ts";
import { ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { edgeInputsKey, PROCESS_TYPE, planRuntimeGraph, type RuntimeGraphInput } from "./build.ts";
import type { ContainerInfo } from "./discover.ts";
import type { ProcessInfo } from "./processes.ts";

const container: ContainerInfo = {
  id: "c".repeat(64),
  runtime: 3,
  cgroupVersion: 2,
  cgroupPath: "/k/c",
  relPath: "k/c",
  podUid: "u",
  imageName: "nginx",
  imageTag: "1",
  labels: { a: "b" },
  createdMs: 1_700_000_000_000,
  startedMs: 0,
  limits: { cpuShares: 2, cpusetCpus: "0-1", cpusetMems: "0", memoryLimitBytes: 5n },
  containerName: "n",
  workloadName: "w",
};
const proc = (pid: number, ppid: number, container: string, state = "S"): ProcessInfo => ({
  pid,
  ppid,
  pgid: pid,
  sid: pid,
  command: "x",
  cmdline: "x --y",
  state,
  startMs: 1_700_000_000_000 + pid,
  container,
});
const input = (processes: ProcessInfo[], c = container): RuntimeGraphInput => ({
  systemName: "h",
  containers: [c],
  processes,
  rootCpuset: { cpus: "0-7", mems: "0-1" },
  podRef: () =>
    resourceRef("k8s.io.api.core.v1.Pod", "p", {
      $typeName: "resource.v1.Namespace",
      namespace: { case: "kube", value: { $typeName: "resource.v1.KubernetesNamespace", cluster: "c", namespace: "n" } },
    }),
});

test("node paths and edge keys equal refPath and relationshipKey of what they build", () => {
  const plan = planRuntimeGraph(input([proc(1, 0, ""), proc(10, 1, container.id), proc(11, 10, container.id)]));
  expect(plan.nodes.size).toBe(4);
  for (const [path, n] of plan.nodes) expect(refPath(resourceRefOf(n.build()))).toBe(path);
  // system<->container, pod<->container, 2 cores, 1 numa node, system<->1, 1<->10, c<->10, 10<->11, c<->11
  expect(plan.edges.size).toBe(2 * 10);
  for (const [key, e] of plan.edges) expect(relationshipKey(e.build())).toBe(key);
});

test("signatures: equal inputs, equal signature; a change of any built field changes it; R/S/D moves do not", () => {
  const sig = (p: ProcessInfo) => [...planRuntimeGraph(input([p])).nodes.values()].find((n) => n.type === PROCESS_TYPE)!;
  const a = sig(proc(5, 1, ""));
  expect(sig(proc(5, 1, "")).sig).toBe(a.sig);
  expect(sig(proc(5, 2, "")).sig).not.toBe(a.sig);
  expect(sig({ ...proc(5, 1, ""), cmdline: "z" }).sig).not.toBe(a.sig);
  expect(sig(proc(5, 1, "", "Z")).sig).not.toBe(a.sig);
  const running = sig(proc(5, 1, "", "R"));
  expect(running.sig).toBe(a.sig);
  expect(equals(ResourceSchema, running.build(), a.build())).toBe(false); // built with its own state when it is written
  const c = (x: ContainerInfo) => [...planRuntimeGraph(input([], x)).nodes.values()].find((n) => n.type !== PROCESS_TYPE)!.sig;
  expect(c({ ...container })).toBe(c(container));
  expect(c({ ...container, limits: { ...container.limits, memoryLimitBytes: 6n } })).not.toBe(c(container));
  expect(c({ ...container, labels: { a: "c" } })).not.toBe(c(container));
});

test("edgeInputsKey: equal keys plan equal relationships; any input of a relationship changes the key", () => {
  const procs = [proc(1, 0, ""), proc(10, 1, container.id), proc(11, 10, container.id)];
  const base = input(procs);
  const key = edgeInputsKey(base);
  const edges = (i: RuntimeGraphInput) => [...planRuntimeGraph(i).edges.keys()].sort();
  // Same inputs (a steady scan, node fields changed): same key, same relationships.
  const touched = input(procs.map((p) => ({ ...p, cmdline: "other", state: "Z", startMs: p.startMs + 1 })));
  expect(edgeInputsKey(touched)).toBe(key);
  expect(edges(touched)).toEqual(edges(base));
  const variants: RuntimeGraphInput[] = [
    { ...base, systemName: "h2" },
    { ...base, rootCpuset: { cpus: "0-1", mems: "0-1" } },
    input([proc(1, 0, ""), proc(10, 1, container.id), proc(11, 1, container.id)]),
    input([proc(1, 0, ""), proc(10, 1, container.id), proc(11, 10, "")]),
    input([proc(1, 0, ""), proc(10, 1, container.id)]),
    input(procs, { ...container, limits: { ...container.limits, cpusetCpus: "0" } }),
    input(procs, { ...container, limits: { ...container.limits, cpusetMems: "1" } }),
    input(procs, { ...container, id: "d".repeat(64) }),
    { ...base, podRef: () => undefined },
  ];
  for (const v of variants) {
    expect(edgeInputsKey(v)).not.toBe(key);
    expect(edges(v)).not.toEqual(edges(base));
  }
  expect(planRuntimeGraph({ ...base, skipEdges: true }).edges.size).toBe(0);
});
