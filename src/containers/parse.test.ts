// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Pure parsers of the runtime graph: the original's cases (image references, pod hashes, human names,
// cpu lists, states) plus the fixes (libpod, cpu.weight) and pod UIDs from both cgroup drivers.

import { describe, expect, test } from "bun:test";
import { ContainerNodeSchema, ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { ProcessNodeSchema, ProcessState } from "../proto/gen/antimetal/runtime/v1/process_pb.ts";
import { cgroupsPathToRel, limitsV1, limitsV2 } from "./cgroup.ts";
import {
  cpuWeightToShares,
  humanNames,
  isValidTag,
  parseCmdline,
  parseCpuList,
  parseImageReference,
  parseProcCgroup,
  parseStatLite,
  podUidFromPath,
  processState,
  runtimeFromPath,
  stripPodHash,
} from "./parse.ts";

describe("image references", () => {
  test("the original's cases", () => {
    const cases: [string, string, string][] = [
      ["nginx", "nginx", "latest"],
      ["nginx:1.21", "nginx", "1.21"],
      ["library/nginx:1.21", "nginx", "1.21"],
      ["docker.io/library/nginx:1.21", "nginx", "1.21"],
      ["registry.example.com/app/nginx:1.21", "nginx", "1.21"],
      ["registry.example.com:5000/app/nginx:1.21", "nginx", "1.21"],
      ["nginx@sha256:abc123def456", "nginx", "sha256:abc123def456"],
      ["docker.io/library/nginx@sha256:abc123", "nginx", "sha256:abc123"],
      ["myapp:v1.2.3-alpha.1", "myapp", "v1.2.3-alpha.1"],
      ["nginx:latest", "nginx", "latest"],
      ["localhost:5000/nginx", "nginx", "latest"],
    ];
    for (const [ref, name, tag] of cases) expect([ref, parseImageReference(ref)]).toEqual([ref, { name, tag }]);
    expect(parseImageReference("")).toBeUndefined();
    expect([isValidTag("5000"), isValidTag("path/segment"), isValidTag(""), isValidTag("my_tag_123")]).toEqual([true, false, false, true]);
  });
});

describe("human names", () => {
  test("stripPodHash: the original's cases", () => {
    const cases: [string, string][] = [
      ["web-server-7d4f8bd9c-abc12", "web-server"],
      ["nginx-deployment-5d7f8c9d6-xyz89", "nginx-deployment"],
      ["cassandra-0", "cassandra-0"],
      ["elasticsearch-cluster-2", "elasticsearch-cluster-2"],
      ["my-pod", "my-pod"],
      ["worker-abc12", "worker"],
      ["my-app-server-v2-6f5dc8-xyz89", "my-app-server-v2"],
      ["MyApp-ABC123", "MyApp-ABC123"],
      ["a-b", "a-b"],
      ["frontend-deployment-abc12", "frontend-deployment"],
    ];
    for (const [a, b] of cases) expect([a, stripPodHash(a)]).toEqual([a, b]);
  });

  test("kubelet labels, CRI annotations (which the original missed), compose, image", () => {
    expect(humanNames({ "io.kubernetes.container.name": "nginx", "io.kubernetes.pod.name": "web-server-7d4f8bd9c-abc12" }, "x")).toEqual({
      containerName: "nginx",
      workloadName: "web-server",
    });
    expect(humanNames({ "io.kubernetes.cri.container-name": "api", "io.kubernetes.cri.sandbox-name": "api-5d7f8c9d6-xyz89" }, "x")).toEqual(
      {
        containerName: "api",
        workloadName: "api",
      },
    );
    expect(humanNames({ "com.docker.compose.service": "web" }, "nginx")).toEqual({ containerName: "web", workloadName: "" });
    expect(humanNames({}, "nginx")).toEqual({ containerName: "nginx", workloadName: "" });
    expect(humanNames({ "io.kubernetes.pod.name": "cassandra-0" }, "cassandra")).toEqual({
      containerName: "cassandra",
      workloadName: "cassandra-0",
    });
    expect(humanNames({ "io.kubernetes.pod.name": "worker-abc12" }, "busybox")).toEqual({
      containerName: "busybox",
      workloadName: "worker",
    });
  });
});

describe("cgroup paths", () => {
  test("runtime: first match wins; libpod is podman", () => {
    expect(runtimeFromPath("kubepods.slice/x/cri-containerd-ab.scope")).toBe(ContainerRuntime.CRI_CONTAINERD);
    expect(runtimeFromPath("system.slice/crio-ab.scope")).toBe(ContainerRuntime.CRI_O);
    expect(runtimeFromPath("system.slice/docker-ab.scope")).toBe(ContainerRuntime.DOCKER);
    expect(runtimeFromPath("containerd/ab")).toBe(ContainerRuntime.CONTAINERD);
    expect(runtimeFromPath("machine.slice/libpod-ab.scope")).toBe(ContainerRuntime.PODMAN);
    expect(runtimeFromPath("podman/ab")).toBe(ContainerRuntime.PODMAN);
    expect(runtimeFromPath("kubepods/besteffort/podx/ab")).toBe(ContainerRuntime.UNKNOWN);
  });

  test("pod UID: systemd (underscores) and cgroupfs", () => {
    const uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    expect(
      podUidFromPath(
        `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-ab.scope`,
      ),
    ).toBe(uid);
    expect(podUidFromPath(`kubepods/besteffort/pod${uid}/abc`)).toBe(uid);
    expect(podUidFromPath(`kubepods/pod${uid}`)).toBe(uid);
    expect(podUidFromPath("system.slice/docker-ab.scope")).toBeUndefined();
  });

  test("an OCI cgroupsPath as a directory: cgroupfs and systemd forms", () => {
    expect(cgroupsPathToRel("/default/web")).toBe("default/web");
    expect(cgroupsPathToRel("kubepods-besteffort-podx.slice:cri-containerd:abc")).toBe(
      "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/cri-containerd-abc.scope",
    );
    expect(cgroupsPathToRel("system.slice:docker:abc")).toBe("system.slice/docker-abc.scope");
    expect(cgroupsPathToRel(":runc:abc")).toBe("runc-abc.scope");
  });

  test("/proc/<pid>/cgroup lines and cmdline", () => {
    expect(parseProcCgroup("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n")).toEqual([
      { controllers: "memory", path: "docker/abc" },
      { controllers: "cpu,cpuacct", path: "docker/abc" },
      { controllers: "", path: "" },
    ]);
    expect(parseCmdline("nginx\0-g\0daemon off;\0")).toBe("nginx -g daemon off;");
    expect(parseCmdline("x".repeat(5000)).length).toBe(4096);
  });
});

describe("cgroup values", () => {
  test("cpu.weight -> shares: the kubelet's conversion inverted (the original gave 12 for 100)", () => {
    expect([1, 39, 100, 1000, 10000].map(cpuWeightToShares)).toEqual([2, 998, 2597, 26192, 262144]);
  });

  test("v2 limits: max means none; quota only when set", () => {
    expect(limitsV2({ weight: "100\n", max: "50000 100000\n", memory: "536870912\n", cpus: "0-1\n", mems: "0\n" })).toEqual({
      cpuShares: 2597,
      cpuQuotaUs: 50000,
      cpuPeriodUs: 100000,
      memoryLimitBytes: 536870912n,
      cpusetCpus: "0-1",
      cpusetMems: "0",
    });
    expect(limitsV2({ max: "max 100000\n", memory: "max\n" })).toEqual({ cpuPeriodUs: 100000, cpusetCpus: "", cpusetMems: "" });
    expect(limitsV2({})).toEqual({ cpusetCpus: "", cpusetMems: "" });
  });

  test("v1 limits: quota -1 and the page-counter maximum mean none", () => {
    expect(limitsV1({ shares: "512\n", quota: "-1\n", period: "100000\n", memory: "9223372036854771712\n" })).toEqual({
      cpuShares: 512,
      cpuPeriodUs: 100000,
      cpusetCpus: "",
      cpusetMems: "",
    });
    expect(limitsV1({ quota: "25000", memory: "268435456" })).toMatchObject({ cpuQuotaUs: 25000, memoryLimitBytes: 268435456n });
  });

  test("cpu lists: the original's cases", () => {
    expect(parseCpuList("")).toEqual([]);
    expect(parseCpuList("0,2,4,6")).toEqual([0, 2, 4, 6]);
    expect(parseCpuList("5-5")).toEqual([5]);
    expect(parseCpuList(" 0 - 2 , 4 , 6 - 7 \n")).toEqual([0, 1, 2, 4, 6, 7]);
    for (const bad of ["0-2-4", "a", "3-1"]) expect(() => parseCpuList(bad)).toThrow();
  });
});

test("process states: every letter, unknown otherwise", () => {
  const map: Record<string, ProcessState> = {
    R: ProcessState.RUNNING,
    S: ProcessState.SLEEPING,
    D: ProcessState.DISK_SLEEP,
    Z: ProcessState.ZOMBIE,
    T: ProcessState.STOPPED,
    t: ProcessState.TRACING_STOP,
    W: ProcessState.PAGING,
    X: ProcessState.DEAD,
    K: ProcessState.WAKEKILL,
    P: ProcessState.PARKED,
    I: ProcessState.SLEEPING,
    "?": ProcessState.UNKNOWN,
  };
  for (const [l, s] of Object.entries(map)) expect([l, processState(l)]).toEqual([l, s]);
});

test("protos: the original's field numbers and enum values", () => {
  const nums = (s: typeof ContainerNodeSchema | typeof ProcessNodeSchema) => Object.fromEntries(s.fields.map((f) => [f.name, f.number]));
  expect(nums(ContainerNodeSchema)).toEqual({
    container_id: 1,
    runtime: 2,
    cgroup_version: 3,
    cgroup_path: 4,
    image_name: 5,
    image_tag: 6,
    labels: 7,
    created_at: 8,
    started_at: 9,
    cpu_shares: 10,
    cpu_quota_us: 11,
    cpu_period_us: 12,
    memory_limit_bytes: 13,
    cpuset_cpus: 14,
    cpuset_mems: 15,
    container_name: 16,
    workload_name: 17,
  });
  expect(nums(ProcessNodeSchema)).toEqual({ pid: 1, ppid: 2, pgid: 3, sid: 4, command: 5, cmdline: 6, state: 7, start_time: 8 });
  expect([ContainerRuntime.PODMAN, ProcessState.WAKING, ProcessState.PARKED]).toEqual([5, 10, 11]);
});

test("parseStatLite: the command may hold spaces and ')'; fields after the last ')'", () => {
  const line = "4242 (my (odd) cmd) S 1 4242 4200 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 100 18446744073709551615\n";
  expect(parseStatLite(line)).toEqual({
    pid: 4242,
    command: "my (odd) cmd",
    state: "S",
    ppid: 1,
    pgid: 4242,
    sid: 4200,
    startTicks: 987654,
  });
  expect(parseStatLite("1 (x) S 0 1")).toBeUndefined();
  expect(parseStatLite("garbage")).toBeUndefined();
});
