// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The container_metrics collector over cgroup v1 and v2 fixture hosts (containerd CRI, docker, cri-o, plain
// ctr): the exact container_* exposition text kubelet's cAdvisor would serve (golden files), exact u64 JSON,
// the cap on containers served and its meters, series vanishing with their container, `collect` and promtool.

import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { registry as selfRegistry } from "../../src/metrics/registry.ts";
import { runCollect } from "../../src/perf/collect-command.ts";
import { metricEvent } from "../../src/perf/collector.ts";
import { ContainerMetricsCollector, type ContainerMetricsData } from "../../src/perf/collectors/container-metrics.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { stringifyExact } from "../../src/util/json.ts";
import { promtoolCheckMetrics } from "../helpers/prom-text.ts";
import { A, B, C, D, V1_REL, V2_REL, v1Host, v2Host } from "./container-fixtures.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const NOW_MS = 1_800_000_000_000;
const golden = (name: string) => fs.readFileSync(new URL(`../fixtures/perf/container-metrics/${name}`, import.meta.url), "utf8");

function host(files: ReturnType<typeof v1Host>) {
  const root = makeTree(files);
  return { root, paths: { ...pathsFor(root), root: `${root}/root` } };
}

async function render(data: ContainerMetricsData): Promise<string> {
  const expo = new PrometheusExposition({ userHz: 100, pageSize: 4096 });
  expo.accept(metricEvent("container_metrics", data, "gauge", "n"));
  return expo.render();
}

const selfMetric = async (re: RegExp) => Number(re.exec(await selfRegistry.metrics())?.[1] ?? Number.NaN);

describe("container_metrics over fixture hosts", () => {
  test("cgroup v1 (cgroupfs and systemd drivers; containerd CRI, docker, cri-o, plain ctr): exact exposition", async () => {
    const { paths } = host(v1Host());
    const data = await new ContainerMetricsCollector(paths, { now: () => NOW_MS }).collect(sig());
    expect(data.containers.map((c) => [c.id, c.runtime, c.cgroup_version])).toEqual([
      [`/${V1_REL.D}`, "unknown", 1],
      [`/${V1_REL.B}`, "docker", 1],
      [`/${V1_REL.C}`, "cri-o", 1],
      [`/${V1_REL.A}`, "unknown", 1],
    ]);
    expect(await render(data)).toBe(golden("v1.prom"));
  });

  test("cgroup v2 (systemd driver): exact exposition; cpu.weight converted to shares as cAdvisor does", async () => {
    const { paths } = host(v2Host());
    const data = await new ContainerMetricsCollector(paths, { now: () => NOW_MS }).collect(sig());
    expect(data.containers.map((c) => c.container_id)).toEqual([C, A, B]);
    expect(data.containers.map((c) => c.cpu?.shares)).toEqual([2n, 2597n, 998n]);
    expect(await render(data)).toBe(golden("v2.prom"));
  });

  test("u64 counters stay exact in the collect JSON (bigint end to end)", async () => {
    const v1 = await new ContainerMetricsCollector(host(v1Host()).paths).collect(sig());
    const v2 = await new ContainerMetricsCollector(host(v2Host()).paths).collect(sig());
    expect(stringifyExact(v1)).toContain('"usage_nanos":9007199254740993');
    expect(stringifyExact(v2)).toContain('"usage_nanos":18446744073709551000');
    const docker = v1.containers.find((c) => c.container_id === B)!;
    expect(docker.memory).toMatchObject({
      usage_bytes: 100000000n,
      working_set_bytes: 0n,
      limit_bytes: 9223372036854771712n,
      oom_kills: null,
    });
    expect(v2.containers.find((c) => c.container_id === B)!.memory).toMatchObject({ failcnt: null, limit_bytes: 18446744073709551615n });
  });

  test("a cap on containers served: the rest are dropped and counted, the served count is a gauge", async () => {
    const { paths } = host(v1Host());
    const dropped = /^antimetal_queue_dropped_total\{queue="container_metrics_containers",reason="over_cap"\} (\d+)$/m;
    const before = (await selfMetric(dropped)) || 0;
    const data = await new ContainerMetricsCollector(paths, { containerMetricsMaxContainers: 2 }).collect(sig());
    expect({ served: data.containers.map((c) => c.container_id), discovered: data.discovered, dropped: data.dropped }).toEqual({
      served: [D, B],
      discovered: 4,
      dropped: 2,
    });
    expect(await selfMetric(dropped)).toBe(before + 2);
    expect(await selfMetric(/^antimetal_queue_depth\{queue="container_metrics_containers"\} (\d+)$/m)).toBe(2);
    expect(await selfMetric(/^antimetal_queue_capacity\{queue="container_metrics_containers"\} (\d+)$/m)).toBe(2);
    const text = await render(data);
    expect(text).not.toContain(A);
    expect(text).not.toContain(C);
  });

  test("a deleted container's series vanish; labels are cached per id and forgotten with the container", async () => {
    const { root, paths } = host(v1Host());
    const collector = new ContainerMetricsCollector(paths);
    const first = await render(await collector.collect(sig()));
    expect(first).toContain(`id="/${V1_REL.B}"`);
    // The runtime state goes first (docker removes config.v2.json), the cgroup after: labels come from the cache.
    fs.rmSync(`${root}/root/var/lib/docker/containers/${B}`, { recursive: true });
    expect(await render(await collector.collect(sig()))).toContain('image="redis:7",name="redis-cache"');
    for (const h of ["cpu", "cpuacct", "memory"]) fs.rmSync(`${root}/sys/fs/cgroup/${h}/${V1_REL.B}`, { recursive: true });
    const gone = await render(await collector.collect(sig()));
    expect(gone).not.toContain(B);
    expect(gone).toContain(`id="/${V1_REL.A}"`);
    // Same id again (a restarted container) with no runtime state: the old labels were forgotten.
    for (const [h, f, t] of [
      ["cpu", "cpu.stat", "nr_periods 0\n"],
      ["cpuacct", "cpuacct.usage", "7\n"],
    ] as const) {
      fs.mkdirSync(`${root}/sys/fs/cgroup/${h}/${V1_REL.B}`, { recursive: true });
      fs.writeFileSync(`${root}/sys/fs/cgroup/${h}/${V1_REL.B}/${f}`, t);
    }
    expect(await render(await collector.collect(sig()))).toMatch(
      new RegExp(`container_last_seen\\{container="",id="/${V1_REL.B}",image="",name=""`),
    );
  });

  test("a runtime state file over 1 MiB is not read: counted, warned once, the container still served with its id", async () => {
    const files = v2Host();
    const big = JSON.stringify({ annotations: { "io.kubernetes.cri.container-name": "x" }, pad: "x".repeat(1_100_000) });
    files[`root/run/containerd/io.containerd.runtime.v2.task/k8s.io/${A}/config.json`] = big;
    const { paths } = host(files);
    const tooLarge = /^antimetal_queue_dropped_total\{queue="host_file_read_bytes",reason="too_large"\} (\d+)$/m;
    const before = (await selfMetric(tooLarge)) || 0;
    const warnings: unknown[] = [];
    const logger = { warn: (o: unknown) => warnings.push(o), debug: () => undefined } as never;
    const data = await new ContainerMetricsCollector(paths, { logger }).collect(sig());
    const a = data.containers.find((c) => c.container_id === A)!;
    expect([a.container, a.image, a.name, a.id]).toEqual(["", "", "", `/${V2_REL.A}`]);
    expect(await selfMetric(tooLarge)).toBeGreaterThan(before);
    expect(warnings.length).toBe(1);
  });

  test("`collect --collectors container_metrics` prints the collector's JSON", async () => {
    const { paths } = host(v2Host());
    const { output, exitCode } = await runCollect({ paths, format: "json", collectors: ["container_metrics"], collectorOptions: {} });
    expect(exitCode).toBe(0);
    const j = JSON.parse(output) as { container_metrics: ContainerMetricsData };
    expect(Object.keys(j)).toEqual(["container_metrics"]);
    expect(j.container_metrics.containers.map((c) => [c.container, c.pod, c.namespace, c.image])).toEqual([
      ["api", "api-0", "prod", "quay.io/org/api:v3"],
      ["web", "web-5d9c7", "shop", "docker.io/library/nginx:1.27"],
      ["", "", "", "redis:7"],
    ]);
    expect(output).toContain('"usage_nanos": 18446744073709551000');
  });

  test("promtool check metrics accepts the families (only the lint cAdvisor's own names carry)", () => {
    for (const name of ["v1.prom", "v2.prom"]) {
      const r = promtoolCheckMetrics(golden(name));
      expect({ name, status: r.status, problems: r.problems }).toEqual({
        name,
        status: name === "v1.prom" ? 3 : 0,
        problems: name === "v1.prom" ? ['container_memory_failcnt counter metrics should have "_total" suffix'] : [],
      });
    }
  });
});
