// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which collectors run at which interval under `run`, from two inputs that change at run time: the
// agent's own options (--collectors, --performance-collector-interval, --collector-intervals and
// the collector tuning options) and the config objects in force (fs or AMS loader).

import { formatDuration } from "../config/duration.ts";
import { ConfigError } from "../config/load.ts";
import type { ConfigObjectSource } from "../config/objects/source.ts";
import { COLLECTOR_INTERVAL_RANGE, type Config } from "../config/schema.ts";
import { durationIn } from "../config/validators.ts";
import type { Logger } from "../log/logger.ts";
import { METRIC_TYPES, type MetricType } from "../perf/collector.ts";
import type { CollectorRegistry } from "../perf/registry.ts";
import type { CollectorScheduler, SchedulePlan } from "../perf/scheduler.ts";
import { errorMessage } from "../util/errors.ts";

const collectorInterval = durationIn(...COLLECTOR_INTERVAL_RANGE);

/** --collector-intervals as milliseconds per type; throws ConfigError naming the bad item. */
export function parseIntervals(list: string[]): Partial<Record<MetricType, number>> {
  const out: Partial<Record<MetricType, number>> = {};
  for (const item of list) {
    const [type, value] = item.split("=");
    if (!type || value === undefined || !(METRIC_TYPES as readonly string[]).includes(type)) {
      throw new ConfigError(`invalid --collector-intervals: ${JSON.stringify(item)} (want type=duration with a known collector type)`);
    }
    const parsed = collectorInterval.safeParse(value);
    if (!parsed.success)
      throw new ConfigError(`invalid --collector-intervals: ${type}: ${parsed.error.issues[0]?.message ?? "invalid duration"}`);
    out[type as MetricType] = parsed.data;
  }
  return out;
}

/** The collector options a registry is built with, and the collector each one affects. */
const TUNING: Array<["topProcessCount" | "tcpStates" | "filesystemMountExclude", MetricType]> = [
  ["topProcessCount", "process"],
  ["tcpStates", "tcp"],
  ["filesystemMountExclude", "filesystem"],
];

export type CollectorConfig = Pick<
  Config,
  | "collectors"
  | "performanceCollectorInterval"
  | "collectorIntervals"
  | "topProcessCount"
  | "tcpStates"
  | "filesystemMountExclude"
  | "udevDataPath"
>;

export interface CollectorControlOptions {
  registry: CollectorRegistry;
  /** Builds a registry with new collector options (top-process-count, tcp-states, ...). */
  buildRegistry: (config: CollectorConfig) => Promise<CollectorRegistry>;
  config: CollectorConfig;
  objects?: ConfigObjectSource;
  logger: Logger;
}

/** Where one running collector's interval came from, for GET /config. */
export interface CollectorSource {
  intervalMs: number;
  source: string;
}

export class CollectorControl {
  private config: CollectorConfig;
  private registry: CollectorRegistry;
  private sources = new Map<MetricType, CollectorSource>();
  /** apply() calls run one after another (a reload and a config object change may overlap). */
  private queue: Promise<unknown> = Promise.resolve();
  private scheduler: CollectorScheduler | undefined;

  constructor(private readonly opts: CollectorControlOptions) {
    this.config = opts.config;
    this.registry = opts.registry;
    this.sources = this.plan().sources;
    opts.objects?.onChange(
      () =>
        void this.apply(this.config, "config objects changed").catch((e) =>
          opts.logger.error({ err: errorMessage(e) }, "collectors could not be reconfigured"),
        ),
    );
  }

  /** The scheduler this controls (built from initialPlan()). */
  attach(scheduler: CollectorScheduler): void {
    this.scheduler = scheduler;
  }

  /** The schedule the scheduler starts with. */
  initialPlan(): SchedulePlan {
    return this.plan().plan;
  }

  /** Applies new options and/or the current config objects; resolves once the scheduler runs the new plan. */
  apply(config: CollectorConfig, reason: string): Promise<void> {
    const run = this.queue.then(() => this.applyNow(config, reason));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(config: CollectorConfig, reason: string): Promise<void> {
    const retune = TUNING.filter(([key]) => JSON.stringify(config[key]) !== JSON.stringify(this.config[key])).map(([, type]) => type);
    if (retune.length > 0) this.registry = await this.opts.buildRegistry(config);
    this.config = config;
    const { plan, sources } = this.plan();
    if (!this.scheduler) throw new Error("collector control used before a scheduler was attached");
    const change = await this.scheduler.reconfigure({
      ...plan,
      ...(retune.length > 0 ? { registry: this.registry, restart: retune } : {}),
    });
    this.sources = sources;
    const changed = Object.entries(change).filter(([, types]) => types.length > 0);
    if (changed.length === 0) return;
    // A config reload logs its own one line naming the options; a config object change is logged here.
    const level = reason === "config reload" ? "debug" : "info";
    this.opts.logger[level]({ reason, ...Object.fromEntries(changed), intervals: this.view() }, "collectors reconfigured");
  }

  private plan(): { plan: SchedulePlan; sources: Map<MetricType, CollectorSource> } {
    const config = this.config;
    const intervals = parseIntervals(config.collectorIntervals);
    const requested = config.collectors;
    const everyAvailable = requested.length === 0 || requested.includes("all");
    const base = (everyAvailable ? this.registry.available().map((e) => e.spec.type) : (requested as MetricType[])).filter(
      (t) => t !== "execsnoop",
    );
    const sources = new Map<MetricType, CollectorSource>();
    for (const type of base) {
      const explicit = intervals[type];
      sources.set(type, {
        intervalMs: explicit ?? config.performanceCollectorInterval,
        source: explicit !== undefined ? "--collector-intervals" : "--collectors / --performance-collector-interval",
      });
    }
    // A config object starts its collector, or sets the interval of one already running; two objects
    // for one collector: the shorter interval wins.
    const collectors = new Set<MetricType>(base);
    const objectIntervals: Partial<Record<MetricType, number>> = {};
    for (const obj of this.opts.objects?.active() ?? []) {
      const type = obj.config?.collector as MetricType | undefined;
      if (!type || type === "execsnoop") continue;
      const ms = obj.config!.intervalSeconds > 0 ? obj.config!.intervalSeconds * 1000 : config.performanceCollectorInterval;
      if (objectIntervals[type] !== undefined && objectIntervals[type]! <= ms) continue;
      objectIntervals[type] = ms;
      collectors.add(type);
      sources.set(type, {
        intervalMs: ms,
        source: `config object ${obj.name}${obj.version ? ` (version ${obj.version})` : ""} from ${obj.source}`,
      });
    }
    return {
      plan: {
        collectors: [...collectors],
        intervalMs: config.performanceCollectorInterval,
        intervals: { ...intervals, ...objectIntervals },
      },
      sources,
    };
  }

  /** Running collector -> its interval (as the scheduler runs it) and where that came from. */
  view(): Record<string, { interval: string; source: string }> {
    const running = this.scheduler?.intervalsMs() ?? {};
    return Object.fromEntries(
      Object.entries(running).map(([type, ms]) => {
        const s = this.sources.get(type as MetricType);
        const source = s && s.intervalMs === ms ? s.source : "default of its kind (hardware info: 5m)";
        return [type, { interval: formatDuration(ms), source: s ? source : "running" }];
      }),
    );
  }
}
