// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Core types of the performance collectors: metric type names, host filesystem roots, collector specs,
// point and continuous collectors, metric events and their consumers.

import type { CapabilityName } from "../system/capabilities.ts";
import type { MetricDataMap } from "./metric-data.ts";

export type { MetricDataMap } from "./metric-data.ts";

/** Metric types, named as the original agent names them (they are the keys of `collect` JSON). */
export const METRIC_TYPES = [
  "load",
  "cpu",
  "memory",
  "system",
  "disk",
  "network",
  "tcp",
  "kernel",
  "process",
  "numa_stats",
  "cgroup_cpu",
  "cgroup_memory",
  "cpu_info",
  "memory_info",
  "disk_info",
  "network_info",
  "execsnoop",
  "filesystem",
  "uname",
  "os_release",
  "time",
  "timex",
  "pressure",
  "conntrack",
  "filefd",
  "entropy",
  "arp",
  "softnet",
  "thermal_zone",
  "bonding",
  "edac",
  "mdstat",
  "hwmon",
  "power_supply",
  "selinux",
  "netclass",
  "container_metrics",
] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** Roots of the host filesystems the collectors read (HOST_PROC, HOST_SYS, ... or flags). */
export interface HostPaths {
  proc: string;
  sys: string;
  dev: string;
  etc: string;
  var: string;
  /** The host's / (HOST_ROOT, e.g. /host/root in a pod): where statfs finds the host's mounts when <proc>/1/root is not accessible. */
  root?: string;
}

export const DEFAULT_HOST_PATHS: HostPaths = { proc: "/proc", sys: "/sys", dev: "/dev", etc: "/etc", var: "/var" };

/** What a collector is and what it needs to run. */
export interface CollectorSpec {
  type: MetricType;
  name: string;
  /** Can answer a one-shot `collect`. */
  point: boolean;
  /** Can run on a schedule or as a stream under `run`. */
  continuous: boolean;
  requiredCapabilities: CapabilityName[];
  /** Minimum kernel as "major.minor[.patch]". */
  minKernel: string;
}

/** One datum of metric type T handed to the metrics router. */
export interface MetricEventOf<T extends MetricType> {
  timestamp: Date;
  metricType: T;
  /** counter for cumulative data, gauge for levels, event for discrete records (kmsg, exec). */
  eventType: "gauge" | "counter" | "event";
  nodeName: string;
  data: MetricDataMap[T];
}

/** Any metric event; narrowing on metricType types its data. */
export type MetricEvent = { [T in MetricType]: MetricEventOf<T> }[MetricType];

/** Builds an event whose data the compiler has checked against its type (the one place T is erased). */
export function metricEvent<T extends MetricType>(
  metricType: T,
  data: MetricDataMap[T],
  eventType: MetricEvent["eventType"],
  nodeName: string,
  timestamp = new Date(),
): MetricEvent {
  return { timestamp, metricType, eventType, nodeName, data } as MetricEventOf<T> as MetricEvent;
}

/** Answers one sample on demand. Stateful collectors keep their delta baseline between calls. */
export interface PointCollector<T extends MetricType = MetricType> {
  readonly spec: CollectorSpec;
  collect(signal: AbortSignal): Promise<MetricDataMap[T]>;
}

/** Produces data on its own (ring buffer, kmsg follow) until stopped. */
export interface ContinuousCollector {
  readonly spec: CollectorSpec;
  start(emit: (event: MetricEvent) => void): Promise<void>;
  stop(): Promise<void>;
}

/** A place metric events go (Prometheus exposition, later OTLP). */
export interface MetricConsumer {
  readonly name: string;
  accept(event: MetricEvent): void;
}
