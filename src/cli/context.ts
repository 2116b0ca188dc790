// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What every subcommand receives (config, logger, stdout) and helpers deriving host paths, collector
// options and the node name from the config.

import { hostname } from "node:os";
import type { Loaded } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { HostPaths } from "../perf/collector.ts";
import type { CollectorOptions } from "../perf/collectors/common.ts";

/** What every subcommand gets: its config, a logger, and where to write output. */
export interface CommandContext {
  config: Config;
  positionals: string[];
  logger: Logger;
  stdout: (text: string) => void;
  /** How the config was resolved, so `run` can resolve it again on reload (same argv and environment). */
  resolved?: {
    argv: readonly string[];
    env: Readonly<Record<string, string | undefined>>;
    origins: Loaded["origins"];
    sources: Loaded["sources"];
  };
}

export function makeLogger(config: Pick<Config, "logLevel" | "logFormat">): Logger {
  return createLogger({ level: config.logLevel, format: config.logFormat });
}

export function hostPaths(config: Pick<Config, "hostProc" | "hostSys" | "hostDev" | "hostEtc" | "hostVar" | "hostRoot">): HostPaths {
  const paths: HostPaths = { proc: config.hostProc, sys: config.hostSys, dev: config.hostDev, etc: config.hostEtc, var: config.hostVar };
  return config.hostRoot ? { ...paths, root: config.hostRoot } : paths;
}

/** Collector tuning shared by `run` and `collect`. */
export function collectorOptions(
  config: Pick<Config, "topProcessCount" | "tcpStates" | "filesystemMountExclude" | "udevDataPath">,
  logger?: Logger,
): CollectorOptions {
  return {
    topProcessCount: config.topProcessCount,
    tcpStates: config.tcpStates,
    udevDataPath: config.udevDataPath,
    ...(config.filesystemMountExclude !== "" ? { filesystemMountExclude: new RegExp(config.filesystemMountExclude) } : {}),
    ...(logger ? { logger } : {}),
  };
}

export function nodeName(config: Pick<Config, "nodeName">): string {
  return config.nodeName !== "" ? config.nodeName : hostname();
}
