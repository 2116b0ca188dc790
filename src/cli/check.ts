// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { detectFeatures, formatFeatureReport } from "../ebpf/index.ts";
import { defaultRegistry } from "../perf/collect-command.ts";
import { missingCapabilities } from "../system/capabilities.ts";
import { stringifyExact } from "../util/json.ts";
import { type CommandContext, hostPaths } from "./context.ts";

/**
 * `antimetal-agent check`: what this host offers (kernel, BTF, ring buffer, CO-RE, capabilities,
 * libbpf) and, for every collector, whether it can run here and why not. Exit 0 whatever it finds:
 * it reports, it does not judge.
 */
export async function checkCommand(ctx: CommandContext): Promise<number> {
  const report = await detectFeatures({ procVersionPath: `${ctx.config.hostProc}/version` });
  const registry = await defaultRegistry(hostPaths(ctx.config));
  const collectors: typeof report.collectors = {};
  for (const e of registry.entries()) {
    collectors[e.spec.type] = {
      available: e.available,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      missingCapabilities: missingCapabilities(BigInt(report.capabilities.effective), e.spec.requiredCapabilities),
      requiredCapabilities: e.spec.requiredCapabilities,
      minKernel: e.spec.minKernel,
    };
  }
  const full = { ...report, collectors: { ...collectors, ...report.collectors } };
  ctx.stdout(ctx.config.checkFormat === "json" ? stringifyExact(full, 2) + "\n" : formatFeatureReport(full));
  return 0;
}
