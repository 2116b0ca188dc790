// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The Prometheus consumer of collector data: keeps the latest data of each metric type and renders the
// family groups in src/perf/exposition/ as text, once per change of their data.

import { Registry } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { type ExpositionSource, joinExpositions } from "../metrics/scrape-cache.ts";
import { errorMessage } from "../util/errors.ts";
import type { HostPaths, MetricConsumer, MetricDataMap, MetricEvent, MetricType } from "./collector.ts";
import { auxvValues } from "./collectors/common.ts";
import { cgroupFamilies } from "./exposition/cgroup.ts";
import { containerFamilies } from "./exposition/container.ts";
import { cpuFamilies } from "./exposition/cpu.ts";
import { diskFamilies } from "./exposition/disk.ts";
import { dropEmptyFamilies } from "./exposition/drop-empty.ts";
import type { Family, FamilyGroup, LatestData, Sample } from "./exposition/family.ts";
import { filesystemFamilies } from "./exposition/filesystem.ts";
import { hostHardwareFamilies } from "./exposition/host-hardware.ts";
import { hostIdentityFamilies } from "./exposition/host-identity.ts";
import { hwmonFamilies } from "./exposition/hwmon.ts";
import { kernelFamilies } from "./exposition/kernel.ts";
import { kernelTableFamilies } from "./exposition/kernel-tables.ts";
import { loadFamilies } from "./exposition/load.ts";
import { memoryFamilies } from "./exposition/memory.ts";
import { netTableFamilies } from "./exposition/net-tables.ts";
import { netclassFamilies } from "./exposition/netclass.ts";
import { netstatFamilies } from "./exposition/netstat.ts";
import { networkFamilies } from "./exposition/network.ts";
import { numaFamilies } from "./exposition/numa.ts";
import { powerSupplyFamilies } from "./exposition/power-supply.ts";
import { pressureFamilies } from "./exposition/pressure.ts";
import { processFamilies } from "./exposition/process.ts";
import { timeFamilies } from "./exposition/time.ts";
import { expositionErrors, expositionSeriesDropped } from "./self-metrics.ts";

export { MEMINFO_KEYS, VMSTAT_KEYS } from "./exposition/memory.ts";
export { NETSTAT_KEYS, SOCKSTAT_KEYS } from "./exposition/netstat.ts";

/** In output order. */
const FAMILY_GROUPS: readonly FamilyGroup[] = [
  cpuFamilies,
  loadFamilies,
  memoryFamilies,
  diskFamilies,
  networkFamilies,
  netstatFamilies,
  numaFamilies,
  processFamilies,
  cgroupFamilies,
  filesystemFamilies,
  kernelFamilies,
  hostIdentityFamilies,
  timeFamilies,
  pressureFamilies,
  kernelTableFamilies,
  netTableFamilies,
  hostHardwareFamilies,
  hwmonFamilies,
  powerSupplyFamilies,
  netclassFamilies,
  containerFamilies,
];

/**
 * Series one family may have (10k interfaces would otherwise be 10k series in each of 19 families,
 * rendered and held in memory). The rest are dropped and counted in antimetal_exposition_series_dropped_total.
 */
export const DEFAULT_MAX_SERIES_PER_FAMILY = 2000;

export interface ExpositionOptions {
  userHz?: number;
  pageSize?: number;
  maxSeriesPerFamily?: number;
  /** Families not served at all (node_* families of a namespace the agent sees only as its pod's, src/perf/host-view.ts). */
  leaveOut?: (family: string) => boolean;
  logger?: Logger;
}

interface RenderedGroup {
  group: FamilyGroup;
  registry: Registry;
  families: Family[];
  text?: string;
  /** Sum of the versions of the group's types when `text` was rendered. */
  renderedAt: number;
}

/**
 * Serves host data with node_exporter's metric names, labels and units where node_exporter has the same
 * quantity (see docs/metrics.md). Families are computed from the latest data when it changes; nothing is
 * kept per series, so vanished devices and processes disappear. A family whose data cannot be rendered is
 * left empty, counted in antimetal_exposition_errors_total{family} and logged when it starts failing.
 */
export class PrometheusExposition implements MetricConsumer, ExpositionSource {
  readonly name = "prometheus";
  private readonly latest = new Map<MetricType, MetricDataMap[MetricType]>();
  private readonly typeVersions = new Map<MetricType, number>();
  private readonly kmsgBySeverity = new Map<number, number>();
  private readonly groups: RenderedGroup[];
  private readonly failing = new Set<string>();
  private changes = 0;

  constructor(private readonly opts: ExpositionOptions = {}) {
    const latest = this.latest;
    const data: LatestData = {
      get: <T extends MetricType>(type: T) => latest.get(type) as MetricDataMap[T] | undefined,
      userHz: opts.userHz ?? 100,
      pageSize: opts.pageSize ?? 4096,
      kmsgBySeverity: this.kmsgBySeverity,
    };
    this.groups = FAMILY_GROUPS.map((group) => {
      const families: Family[] = [];
      group.define(data, (name, type, help, samples) => {
        if (!opts.leaveOut?.(name)) families.push({ name, type, help, samples });
      });
      const registry = new Registry();
      for (const f of families) {
        registry.registerMetric({
          name: f.name,
          help: f.help,
          type: f.type,
          get: async () => ({ name: f.name, help: f.help, type: f.type, values: this.samplesOf(f), aggregator: "sum" }),
          reset: () => undefined,
        } as never);
      }
      return { group, registry, families, renderedAt: -1 };
    });
  }

  /** USER_HZ and page size from <proc>/self/auxv (defaults 100 / 4096). */
  static async create(paths: HostPaths, opts: Omit<ExpositionOptions, "userHz" | "pageSize"> = {}): Promise<PrometheusExposition> {
    const { hz, page } = await auxvValues(paths.proc);
    return new PrometheusExposition({ ...opts, userHz: hz, pageSize: page });
  }

  accept(event: MetricEvent): void {
    this.changes++;
    this.typeVersions.set(event.metricType, (this.typeVersions.get(event.metricType) ?? 0) + 1);
    if (event.metricType === "kernel" && !Array.isArray(event.data)) {
      const sev = event.data.severity;
      this.kmsgBySeverity.set(sev, (this.kmsgBySeverity.get(sev) ?? 0) + 1);
      return;
    }
    this.latest.set(event.metricType, event.data);
  }

  /** Changes whenever new data arrives (ExpositionSource). */
  get version(): number {
    return this.changes;
  }

  /** The text of every family; a group is re-rendered only when data of its types arrived since. */
  async render(): Promise<string> {
    for (const g of this.groups) {
      const at = this.groupVersion(g.group);
      if (g.text !== undefined && g.renderedAt === at) continue;
      g.text = dropEmptyFamilies(await g.registry.metrics());
      g.renderedAt = at;
    }
    return joinExpositions(this.groups.map((g) => g.text ?? ""));
  }

  /** Renders everything now, ignoring what is cached (for benchmarks of the render cost). */
  async renderAll(): Promise<string> {
    for (const g of this.groups) g.text = undefined;
    return this.render();
  }

  /** Names of every family served (for docs and tests). */
  familyNames(): string[] {
    return this.groups.flatMap((g) => g.families.map((f) => f.name));
  }

  private groupVersion(group: FamilyGroup): number {
    return group.types.reduce((sum, t) => sum + (this.typeVersions.get(t) ?? 0), 0);
  }

  private samplesOf(f: Family): Sample[] {
    let samples: Sample[];
    try {
      samples = f.samples();
    } catch (e) {
      expositionErrors.inc({ family: f.name });
      if (!this.failing.has(f.name))
        this.opts.logger?.warn(
          { family: f.name, err: errorMessage(e) },
          "metric family cannot be rendered from its data; repeats are counted in antimetal_exposition_errors_total",
        );
      this.failing.add(f.name);
      return [];
    }
    this.failing.delete(f.name);
    const max = this.opts.maxSeriesPerFamily ?? DEFAULT_MAX_SERIES_PER_FAMILY;
    if (samples.length <= max) return samples;
    expositionSeriesDropped.inc({ family: f.name }, samples.length - max);
    return samples.slice(0, max);
  }
}
