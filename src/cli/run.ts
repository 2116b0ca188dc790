// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { buildInfo } from "../build-info.ts";
import { redactedView } from "../config/load.ts";
import { registry } from "../metrics/registry.ts";
import { registerSelfMetrics } from "../metrics/self.ts";
import type { Component } from "../runtime/component.ts";
import { Lifecycle } from "../runtime/lifecycle.ts";
import { onShutdownSignal } from "../runtime/signals.ts";
import { createHttpComponent } from "../server/http.ts";
import { stringifyExact } from "../util/json.ts";
import type { CommandContext } from "./context.ts";

/**
 * `antimetal-agent run`: builds the components from the configuration, starts them in order
 * (HTTP first, so liveness answers while the rest starts; readiness stays false until every
 * required component runs), and stops them in reverse on SIGTERM/SIGINT within the budget.
 */
export async function runCommand(ctx: CommandContext): Promise<number> {
  const { config, logger } = ctx;
  if (config.printConfig) {
    ctx.stdout(stringifyExact(redactedView({ config, sources: {} as never, positionals: [], help: false }), 2) + "\n");
    return 0;
  }
  registerSelfMetrics(buildInfo);
  logger.info({ version: buildInfo.version, revision: buildInfo.revision, pid: process.pid }, "starting antimetal-agent");

  let lifecycle: Lifecycle | undefined;
  const http = createHttpComponent({
    probeAddress: config.healthProbeBindAddress,
    metricsAddress: config.metricsBindAddress,
    pprofAddress: config.pprofAddress,
    readiness: () => lifecycle?.readiness() ?? { ready: false, reasons: ["starting"] },
    registry,
    logger,
  });
  const components: Component[] = [http, ...(await buildComponents(ctx))];
  lifecycle = new Lifecycle(components, logger);

  const stopped = new Promise<number>((resolve) => {
    onShutdownSignal(async (signal) => {
      logger.info({ signal, budgetMs: config.shutdownTimeout }, "shutting down");
      const clean = await lifecycle!.stop(config.shutdownTimeout);
      logger.info({ clean }, "stopped");
      resolve(clean ? 0 : 1);
    });
  });

  try {
    await lifecycle.start();
  } catch (e) {
    logger.error({ err: (e as Error).message }, "agent failed to start");
    return 1;
  }
  logger.info({ ports: http.ports() }, "agent running");
  return stopped;
}

/** Everything but HTTP, in start order. */
async function buildComponents(_ctx: CommandContext): Promise<Component[]> {
  return [];
}
