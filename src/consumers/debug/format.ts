// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What the debug consumer prints for one event at each level (basic, details, verbose) in each format
// (json, text), as the original prints it: pure functions of the event and the consumer's counters.

import type { MetricEvent, MetricType } from "../../perf/collector.ts";
import { stringifyExact } from "../../util/json.ts";

export type DebugLevel = "basic" | "details" | "verbose";
export type DebugFormat = "json" | "text";
export const LEVELS: Record<DebugLevel, number> = { basic: 0, details: 1, verbose: 2 };

/** The original's config from its flags: timestamps on, event data from details on, 1024 bytes of it at most. */
export interface DebugConfig {
  level: DebugLevel;
  format: DebugFormat;
  includeTimestamp: boolean;
  includeEventData: boolean;
  maxDataLength: number;
}

export function debugConfigFrom(level: DebugLevel, format: DebugFormat): DebugConfig {
  return { level, format, includeTimestamp: true, includeEventData: LEVELS[level] >= 1, maxDataLength: 1024 };
}

export interface DebugStats {
  eventsProcessed: number;
  errorsCount: number;
  uptimeNs: bigint;
  byType: Record<string, number>;
  bySource: Record<string, number>;
}

/** The original's Go type names of each payload (its data_type field); types it never had get a plain name. */
const GO_TYPES: Partial<Record<MetricType, string>> = {
  load: "*performance.LoadStats",
  memory: "*performance.MemoryStats",
  cpu: "[]*performance.CPUStats",
  process: "[]*performance.ProcessStats",
  disk: "[]*performance.DiskStats",
  network: "[]*performance.NetworkStats",
  tcp: "*performance.TCPStats",
  system: "*performance.SystemStats",
  kernel: "*performance.KernelMessage",
  numa_stats: "*performance.NUMAStatistics",
  cgroup_cpu: "[]performance.CgroupCPUStats",
  cgroup_memory: "[]performance.CgroupMemoryStats",
  cpu_info: "*performance.CPUInfo",
  memory_info: "*performance.MemoryInfo",
  disk_info: "[]*performance.DiskInfo",
  network_info: "[]*performance.NetworkInfo",
};

export function dataType(e: MetricEvent): string {
  if (e.metricType === "kernel" && Array.isArray(e.data)) return "[]*performance.KernelMessage";
  return GO_TYPES[e.metricType] ?? (Array.isArray(e.data) ? `[]${e.metricType}` : e.data === null ? "nil" : e.metricType);
}

/** JSON of a payload cut to `max` bytes: back to the last "," (cut before it) or "{" (kept), then the note. */
export function truncateJson(json: string, max: number): string {
  const bytes = Buffer.from(json);
  if (bytes.length <= max) return json;
  let cut = bytes.subarray(0, max).toString();
  for (let i = cut.length - 1; i >= 0; i--) {
    if (cut[i] === ",") {
      cut = cut.slice(0, i);
      break;
    }
    if (cut[i] === "{") {
      cut = cut.slice(0, i + 1);
      break;
    }
  }
  return `${cut}... (truncated from ${bytes.length} bytes)`;
}

/** [YYYY-MM-DD HH:MM:SS.mmm] in UTC. */
function textTime(d: Date): string {
  return d.toISOString().replace("T", " ").replace("Z", "").slice(0, 23);
}

function statsObject(s: DebugStats) {
  return {
    events_processed: s.eventsProcessed,
    errors_count: s.errorsCount,
    uptime: s.uptimeNs,
    events_by_type: s.byType,
    events_by_source: s.bySource,
  };
}

export interface EventMeta {
  source: string;
  clusterName: string;
}

/** The lines the consumer logs for one event (the stats line, or stats field, when `stats` is given). */
export function formatEvent(e: MetricEvent, cfg: DebugConfig, meta: EventMeta, stats?: DebugStats): string[] {
  const level = LEVELS[cfg.level];
  const json = stringifyExact(e.data) ?? "null";
  if (cfg.format === "json") {
    const entry: Record<string, unknown> = {};
    if (cfg.includeTimestamp) entry.timestamp = e.timestamp.toISOString();
    entry.level = "INFO";
    entry.consumer = "debug";
    entry.message = "Metrics event received";
    entry.event = {
      metric_type: e.metricType,
      source: meta.source,
      node_name: e.nodeName,
      cluster_name: meta.clusterName,
      data_type: dataType(e),
      data_size: Buffer.byteLength(json),
    };
    let data: string | undefined;
    if (cfg.includeEventData && level >= 2)
      data = Buffer.byteLength(json) <= cfg.maxDataLength ? json : JSON.stringify(truncateJson(json, cfg.maxDataLength));
    if (stats) entry.stats = statsObject(stats);
    const text = stringifyExact(entry);
    // the payload goes in as JSON when whole, as a string when cut
    return [data === undefined ? text : `${text.slice(0, -1)},"data":${data}}`];
  }
  const parts = [`Event: ${e.metricType}`];
  if (level >= 1) {
    if (meta.source) parts.push(`Source: ${meta.source}`);
    if (e.nodeName) parts.push(`Node: ${e.nodeName}`);
    if (meta.clusterName) parts.push(`Cluster: ${meta.clusterName}`);
  }
  if (level >= 2) {
    parts.push(`DataType: ${dataType(e)}`);
    if (cfg.includeEventData)
      parts.push(
        `Data: ${json.length <= cfg.maxDataLength ? json : `${json.slice(0, cfg.maxDataLength)}... (truncated from ${json.length} chars)`}`,
      );
  }
  const line = (cfg.includeTimestamp ? `[${textTime(e.timestamp)}] ` : "") + parts.join(" | ");
  if (!stats) return [line];
  return [line, `Debug consumer stats | ${stringifyExact(statsObject(stats))}`];
}
