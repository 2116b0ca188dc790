// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Runs the host collectors under `run`: each point collector on its own interval with a timeout,
// continuous ones started once, results sent to the MetricsRouter.

import type { Logger } from "../log/logger.ts";
import type { Component } from "../runtime/component.ts";
import { errorMessage } from "../util/errors.ts";
import { SAMPLE_GAP_MS } from "./collect-command.ts";
import { type ContinuousCollector, type MetricEvent, type MetricType, metricEvent, type PointCollector } from "./collector.ts";
import { DELTA_TYPES } from "./delta.ts";
import { errCode, raceAbort, sharedReadPool } from "./io.ts";
import { type CollectorRegistry, isContinuous, isPoint } from "./registry.ts";
import type { MetricsRouter } from "./router.ts";
import { recordCollectorScrape } from "./scrape-collector-metrics.ts";
import { collectorDuration, collectorErrors, collectorSkipped, collectorUp } from "./self-metrics.ts";

export const DEFAULT_INTERVAL_MS = 10_000;
/** Hardware inventory changes rarely; these default to the hardware refresh interval. */
const INFO_TYPES = new Set<MetricType>(["cpu_info", "memory_info", "disk_info", "network_info"]);
const INFO_INTERVAL_MS = 5 * 60_000;
/** The original's event types: counter for cumulative data, gauge for levels, event for records. */
const COUNTER_TYPES = new Set<MetricType>(["system", "tcp"]);

export interface SchedulerOptions {
  registry: CollectorRegistry;
  router: MetricsRouter;
  logger: Logger;
  nodeName: string;
  /** Default interval for every collector (10 s). */
  intervalMs?: number;
  /** Per-collector overrides, e.g. { tcp: 30000, process: 5000 }. */
  intervals?: Partial<Record<MetricType, number>>;
  /** Which collectors to run (default: every available one, including ones added with registerExternal). */
  collectors?: MetricType[];
  /** Budget of one collection (default: min(interval, 5 s)). A collection over budget is abandoned. */
  timeoutMs?: number;
  /** Interval of the hardware-info collectors when not overridden (default 5 min). */
  infoIntervalMs?: number;
}

interface Job {
  type: MetricType;
  collector: PointCollector;
  intervalMs: number;
  timer?: ReturnType<typeof setTimeout>;
  /** The collector's own promise of the current collection (may outlive its timeout if a read is stuck). */
  inflight?: Promise<unknown>;
  lastError?: string;
}

/**
 * Runs the host collectors under `run`: each point collector on its own interval starting at once
 * (rate-based ones get a second sample SAMPLE_GAP_MS later so rates exist from the start), each
 * collection under a timeout so one stuck read cannot hold the others, continuous collectors (kernel
 * follow mode) started once. Results go to the MetricsRouter. An error is logged once when it first
 * appears (and once when it clears), and counted every time.
 */
export class CollectorScheduler implements Component {
  readonly name = "perf-collectors";
  readonly required = false;
  private jobs: Job[] = [];
  private streams: { type: MetricType; collector: ContinuousCollector }[] = [];
  private started = false;
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly opts: SchedulerOptions) {
    this.log = opts.logger;
  }

  async start(): Promise<void> {
    const base = this.opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    const wanted = this.opts.collectors ?? this.opts.registry.available().map((e) => e.spec.type);
    for (const type of wanted) {
      const entry = this.opts.registry.get(type);
      if (!entry) {
        this.log.warn({ collector: type }, "unknown collector; skipped");
        continue;
      }
      if (!entry.available) {
        this.log.info({ collector: type, reason: entry.reason }, "collector unavailable on this host; skipped");
        continue;
      }
      const c = entry.create();
      if (isContinuous(c) && (type === "kernel" || !isPoint(c))) {
        try {
          await c.start((e) => this.publish(e));
          this.streams.push({ type, collector: c });
        } catch (err) {
          collectorErrors.inc({ collector: type, reason: "start" });
          this.log.warn({ collector: type, err: errorMessage(err) }, "continuous collector failed to start");
        }
        continue;
      }
      if (!isPoint(c)) continue;
      const intervalMs = this.opts.intervals?.[type] ?? (INFO_TYPES.has(type) ? (this.opts.infoIntervalMs ?? INFO_INTERVAL_MS) : base);
      this.jobs.push({ type, collector: c, intervalMs });
    }
    this.started = true;
    for (const job of this.jobs) {
      void this.runJob(job).then(() => {
        if (this.stopping) return;
        if (DELTA_TYPES.has(job.type) || job.type === "process") job.timer = setTimeout(() => this.tick(job), SAMPLE_GAP_MS);
        else this.schedule(job);
      });
    }
  }

  private schedule(job: Job): void {
    if (this.stopping) return;
    job.timer = setTimeout(() => this.tick(job), job.intervalMs);
  }

  private tick(job: Job): void {
    void this.runJob(job).then(() => this.schedule(job));
  }

  private publish(e: MetricEvent): void {
    if (!e.nodeName) e.nodeName = this.opts.nodeName;
    this.opts.router.publish(e);
  }

  /** One collection of one collector; never throws. */
  async runJob(job: Job): Promise<void> {
    if (job.inflight) {
      collectorSkipped.inc({ collector: job.type });
      return;
    }
    const timeoutMs = this.opts.timeoutMs ?? Math.min(job.intervalMs, 5000);
    const signal = AbortSignal.timeout(timeoutMs);
    const t0 = performance.now();
    const p = job.collector.collect(signal);
    job.inflight = p;
    p.then(
      () => (job.inflight = undefined),
      () => (job.inflight = undefined),
    );
    try {
      const data = await raceAbort(p, signal);
      collectorDuration.observe({ collector: job.type }, (performance.now() - t0) / 1000);
      collectorUp.set({ collector: job.type }, 1);
      recordCollectorScrape(job.type, (performance.now() - t0) / 1000, true);
      if (job.lastError) this.log.info({ collector: job.type }, "collector recovered");
      job.lastError = undefined;
      this.publish(metricEvent(job.type, data, COUNTER_TYPES.has(job.type) ? "counter" : "gauge", this.opts.nodeName));
    } catch (err) {
      const timedOut = signal.aborted;
      const code = errCode(err);
      const reason = timedOut ? "timeout" : code === "EACCES" || code === "EPERM" ? "permission" : "error";
      collectorErrors.inc({ collector: job.type, reason });
      collectorUp.set({ collector: job.type }, 0);
      recordCollectorScrape(job.type, (performance.now() - t0) / 1000, false);
      const msg = timedOut ? `timed out after ${timeoutMs} ms` : errorMessage(err);
      const waitingOn = timedOut ? sharedReadPool().inflightOf(job.type) : [];
      if (job.lastError !== msg)
        this.log.warn(
          { collector: job.type, err: msg, ...(waitingOn.length ? { waitingOn } : {}) },
          "collection failed; repeats are counted in antimetal_collector_errors_total, not logged",
        );
      job.lastError = msg;
    }
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.stopping = true;
    for (const j of this.jobs) if (j.timer) clearTimeout(j.timer);
    await raceAbort(Promise.allSettled(this.streams.map((s) => s.collector.stop())), deadline).catch(() => undefined);
    await raceAbort(Promise.allSettled(this.jobs.map((j) => j.inflight).filter(Boolean)), deadline).catch(() => undefined);
    this.opts.router.drain();
    this.started = false;
  }

  isReady(): boolean {
    return this.started;
  }

  /** Collector types this scheduler runs (point and continuous). */
  running(): MetricType[] {
    return [...this.jobs.map((j) => j.type), ...this.streams.map((s) => s.type)];
  }
}
