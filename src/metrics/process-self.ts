// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The standard process_* self metrics of Prometheus client libraries (process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_virtual_memory_bytes, process_virtual_memory_max_bytes,
// process_resident_memory_bytes), read from /proc/self: prom-client's collectDefaultMetrics is not used
// under Bun, so the agent reads the same files client_golang's process collector reads.

import * as fs from "node:fs";
import type { Registry } from "prom-client";
import { parseProcLimits } from "../perf/parsers/limits.ts";
import { U64_MAX } from "../perf/parsers/num.ts";
import { parsePidStat } from "../perf/parsers/pid.ts";
import { errorMessage } from "../util/errors.ts";

/** What the process metrics read, injectable for tests. */
export interface ProcessSelfSource {
  /** Text of /proc/self/stat. */
  stat(): string;
  /** Text of /proc/self/limits. */
  limits(): string;
  /** Open file descriptors. */
  openFds(): number;
  /** User + system CPU time in seconds. */
  cpuSeconds(): number;
}

export const procSelf: ProcessSelfSource = {
  stat: () => fs.readFileSync("/proc/self/stat", "utf8"),
  limits: () => fs.readFileSync("/proc/self/limits", "utf8"),
  // readdir holds one descriptor on the directory while listing it: not counted, as prom-client does.
  openFds: () => fs.readdirSync("/proc/self/fd").length - 1,
  cpuSeconds: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  },
};

/** Registers the process_* families on `registry` (once); a failed read leaves that family empty and is reported once. */
export function registerProcessMetrics(registry: Registry, source: ProcessSelfSource = procSelf, onError?: (msg: string) => void): void {
  if (registry.getSingleMetric("process_cpu_seconds_total")) return;
  const reported = new Set<string>();
  const attempt = <T>(what: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (e) {
      if (!reported.has(what)) onError?.(`process metrics: reading ${what} failed: ${errorMessage(e)}`);
      reported.add(what);
      return undefined;
    }
  };
  const stat = () => attempt("/proc/self/stat", () => parsePidStat(source.stat()));
  const limit = (name: string) =>
    attempt("/proc/self/limits", () => {
      const l = parseProcLimits(source.limits(), "/proc/self/limits").get(name);
      return l === undefined ? undefined : Number(l.soft ?? U64_MAX);
    });
  const family = (name: string, type: "counter" | "gauge", help: string, read: () => number | undefined) => {
    registry.registerMetric({
      name,
      help,
      type,
      get: async () => {
        const v = read();
        return { name, help, type, values: v === undefined ? [] : [{ labels: {}, value: v }], aggregator: "sum" };
      },
      reset: () => undefined,
    } as never);
  };
  family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", () =>
    attempt("CPU time", source.cpuSeconds),
  );
  family("process_open_fds", "gauge", "Number of open file descriptors.", () => attempt("/proc/self/fd", source.openFds));
  family("process_max_fds", "gauge", "Maximum number of open file descriptors.", () => limit("Max open files"));
  family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", () => {
    const s = stat();
    return s ? Number(s.vsizeBytes) : undefined;
  });
  family("process_virtual_memory_max_bytes", "gauge", "Maximum amount of virtual memory available in bytes.", () =>
    limit("Max address space"),
  );
  family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", () =>
    attempt("resident memory", () => process.memoryUsage.rss()),
  );
}
