// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent collect`: one-shot host metrics as JSON, or execsnoop exec events / tcpflow connections for --duration.

import { ConfigError } from "../config/load.ts";
import { runExecsnoopCommand, runTcpflowCommand } from "../ebpf/index.ts";
import { PROGRAM_COLLECTORS, type ProgramCollector, runProgramsCommand } from "../ebpf/programs-command.ts";
import { runCollect } from "../perf/collect-command.ts";
import type { MetricType } from "../perf/collector.ts";
import { assertKnownCollectors } from "./collectors-flag.ts";
import { type CommandContext, collectorOptions, hostPaths } from "./context.ts";

/** `antimetal-agent collect`: one-shot host metrics as JSON; `--collectors execsnoop --duration 5s` records exec events. */
export async function collectCommand(ctx: CommandContext): Promise<number> {
  const { config } = ctx;
  const requested = config.collectCollectors;
  if (requested.includes("oomkill") || requested.includes("procexit")) {
    const bad = requested.filter((c) => !(PROGRAM_COLLECTORS as readonly string[]).includes(c));
    if (bad.length > 0)
      throw new ConfigError(
        `invalid --collectors: oomkill, procexit and tcpflow record for --duration and cannot be combined with ${bad.join(", ")}`,
      );
    // oomkill: the victim's cgroup path from the ids its record carries when /proc no longer has it
    const resolver = requested.includes("oomkill") ? new (await import("../netgraph/workload.ts")).CgroupPodResolver() : undefined;
    const { output, exitCode } = await runProgramsCommand({
      programs: requested as ProgramCollector[],
      durationMs: config.duration,
      logger: ctx.logger.child({ component: "collect" }),
      cgroupPathOfId: resolver && ((id, hierarchy) => resolver.pathOfId(id, hierarchy)),
    });
    ctx.stdout(output);
    return exitCode;
  }
  if (requested.includes("tcpflow")) {
    if (requested.length > 1)
      throw new ConfigError("invalid --collectors: tcpflow records for --duration and cannot be combined with other collectors");
    const { output, exitCode } = await runTcpflowCommand({
      durationMs: config.duration,
      logger: ctx.logger.child({ component: "tcpflow" }),
    });
    ctx.stdout(output);
    return exitCode;
  }
  assertKnownCollectors(requested);
  if (requested.includes("execsnoop")) {
    if (requested.length > 1)
      throw new ConfigError("invalid --collectors: execsnoop records for --duration and cannot be combined with point collectors");
    const { output, exitCode } = await runExecsnoopCommand({ durationMs: config.duration });
    ctx.stdout(output);
    return exitCode;
  }
  const collectors = requested.length > 0 && !requested.includes("all") ? (requested as MetricType[]) : undefined;
  const { output, exitCode } = await runCollect({
    paths: hostPaths(config),
    collectors,
    format: config.format,
    collectorOptions: collectorOptions(config, ctx.logger),
  });
  ctx.stdout(output.endsWith("\n") ? output : output + "\n");
  return exitCode;
}
