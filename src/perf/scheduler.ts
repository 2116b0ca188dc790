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
import { errCode, inflightReadsOf, raceAbort } from "./io.ts";
import { type CollectorRegistry, isContinuous, isPoint } from "./registry.ts";
import type { MetricsRouter } from "./router.ts";
import { recordCollectorScrape } from "./scrape-collector-metrics.ts";
import {
  collectorDuration,
  collectorErrors,
  collectorInterval,
  collectorLastSuccess,
  collectorSkipped,
  collectorUp,
} from "./self-metrics.ts";

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

/** What reconfigure() changes while running: the collector set, intervals and (for new collector options) the registry. */
export interface SchedulePlan {
  collectors: MetricType[];
  intervalMs: number;
  intervals: Partial<Record<MetricType, number>>;
  /** A registry built with new collector options; the types in `restart` are recreated from it. */
  registry?: CollectorRegistry;
  restart?: MetricType[];
}

/** What reconfigure() did, by collector type. */
export interface ScheduleChange {
  started: MetricType[];
  stopped: MetricType[];
  rescheduled: MetricType[];
  restarted: MetricType[];
}

interface Job {
  type: MetricType;
  collector: PointCollector;
  intervalMs: number;
  timer?: ReturnType<typeof setTimeout>;
  /** When the last collection started (performance.now()), so a new interval counts from it. */
  lastRunAt?: number;
  /** Set when reconfigure() removed the job: its timer is not armed again. */
  removed?: boolean;
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
    const wanted = this.opts.collectors ?? this.opts.registry.available().map((e) => e.spec.type);
    for (const type of wanted) if (!this.running().includes(type)) await this.add(type);
    this.started = true;
    for (const job of this.jobs) this.firstRun(job);
  }

  /** The interval a collector runs at under the current options. */
  private intervalFor(type: MetricType): number {
    const base = this.opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    return this.opts.intervals?.[type] ?? (INFO_TYPES.has(type) ? (this.opts.infoIntervalMs ?? INFO_INTERVAL_MS) : base);
  }

  /** Creates one collector: a continuous one starts here, a point one becomes a job (first run by the caller). */
  private async add(type: MetricType): Promise<Job | undefined> {
    const entry = this.opts.registry.get(type);
    if (!entry) {
      this.log.warn({ collector: type }, "unknown collector; skipped");
      return undefined;
    }
    if (!entry.available) {
      this.log.info({ collector: type, reason: entry.reason }, "collector unavailable on this host; skipped");
      return undefined;
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
      return undefined;
    }
    if (!isPoint(c)) return undefined;
    const job: Job = { type, collector: c, intervalMs: this.intervalFor(type) };
    collectorInterval.set({ collector: type }, job.intervalMs / 1000);
    this.jobs.push(job);
    return job;
  }

  /** The first collection at once; rate-based collectors get a second sample SAMPLE_GAP_MS later. */
  private firstRun(job: Job): void {
    void this.runJob(job).then(() => {
      if (this.stopping || job.removed) return;
      if (DELTA_TYPES.has(job.type) || job.type === "process") job.timer = setTimeout(() => this.tick(job), SAMPLE_GAP_MS);
      else this.schedule(job);
    });
  }

  /**
   * Applies a new collector set and intervals while running: collectors no longer wanted stop,
   * new ones start at once, a changed interval counts from the last collection, and the types in
   * `plan.restart` are recreated from `plan.registry`. Unchanged collectors keep their timers.
   */
  async reconfigure(plan: SchedulePlan): Promise<ScheduleChange> {
    const change: ScheduleChange = { started: [], stopped: [], rescheduled: [], restarted: [] };
    if (this.stopping) return change;
    this.opts.collectors = plan.collectors;
    this.opts.intervalMs = plan.intervalMs;
    this.opts.intervals = plan.intervals;
    if (plan.registry) this.opts.registry = plan.registry;
    const wanted = new Set(plan.collectors);
    const restart = new Set(plan.restart ?? []);
    for (const job of [...this.jobs]) {
      if (wanted.has(job.type) && !restart.has(job.type)) continue;
      this.removeJob(job);
      if (wanted.has(job.type)) change.restarted.push(job.type);
      else change.stopped.push(job.type);
    }
    for (const stream of [...this.streams]) {
      if (wanted.has(stream.type) && !restart.has(stream.type)) continue;
      this.streams = this.streams.filter((s) => s !== stream);
      await stream.collector
        .stop()
        .catch((err) => this.log.warn({ collector: stream.type, err: errorMessage(err) }, "continuous collector failed to stop"));
      if (wanted.has(stream.type)) change.restarted.push(stream.type);
      else change.stopped.push(stream.type);
    }
    const running = new Set(this.running());
    for (const type of plan.collectors) {
      if (running.has(type)) continue;
      const job = await this.add(type);
      if (!this.running().includes(type)) continue;
      if (!change.restarted.includes(type)) change.started.push(type);
      if (job && this.started) this.firstRun(job);
    }
    for (const job of this.jobs) {
      const intervalMs = this.intervalFor(job.type);
      if (intervalMs === job.intervalMs) continue;
      job.intervalMs = intervalMs;
      collectorInterval.set({ collector: job.type }, intervalMs / 1000);
      change.rescheduled.push(job.type);
      if (job.timer === undefined || job.lastRunAt === undefined) continue;
      clearTimeout(job.timer);
      const due = Math.max(0, job.lastRunAt + intervalMs - performance.now());
      job.timer = setTimeout(() => this.tick(job), due);
    }
    return change;
  }

  private removeJob(job: Job): void {
    job.removed = true;
    if (job.timer) clearTimeout(job.timer);
    this.jobs = this.jobs.filter((j) => j !== job);
    collectorInterval.remove({ collector: job.type });
  }

  private schedule(job: Job): void {
    if (this.stopping || job.removed) return;
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
    job.lastRunAt = performance.now();
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
      collectorLastSuccess.set({ collector: job.type }, Date.now() / 1000);
      recordCollectorScrape(job.type, (performance.now() - t0) / 1000, true);
      if (job.lastError) this.log.info({ collector: job.type }, "collector recovered");
      job.lastError = undefined;
      if (job.removed) return;
      this.publish(metricEvent(job.type, data, COUNTER_TYPES.has(job.type) ? "counter" : "gauge", this.opts.nodeName));
    } catch (err) {
      const timedOut = signal.aborted;
      const code = errCode(err);
      const reason = timedOut ? "timeout" : code === "EACCES" || code === "EPERM" ? "permission" : "error";
      collectorErrors.inc({ collector: job.type, reason });
      collectorUp.set({ collector: job.type }, 0);
      recordCollectorScrape(job.type, (performance.now() - t0) / 1000, false);
      const msg = timedOut ? `timed out after ${timeoutMs} ms` : errorMessage(err);
      const waitingOn = timedOut ? inflightReadsOf(job.type) : [];
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

  /** Interval of each scheduled point collector, in ms. */
  intervalsMs(): Partial<Record<MetricType, number>> {
    return Object.fromEntries(this.jobs.map((j) => [j.type, j.intervalMs]));
  }

  /** Collector types this scheduler runs (point and continuous). */
  running(): MetricType[] {
    return [...this.jobs.map((j) => j.type), ...this.streams.map((s) => s.type)];
  }
}
