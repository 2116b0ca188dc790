// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// `antimetal-agent check`: reports the host's eBPF features and capabilities and which collectors can run.

import type { Config } from "../config/schema.ts";
import { detectFeatures, formatFeatureReport } from "../ebpf/index.ts";
import type { IntakeCheckResult } from "../intake/index.ts";
import type { Logger } from "../log/logger.ts";
import { defaultRegistry } from "../perf/collect-command.ts";
import { defaultIo } from "../perf/collectors/common.ts";
import { detectHostView, formatHostView } from "../perf/host-view.ts";
import { missingCapabilities } from "../system/capabilities.ts";
import { stringifyExact } from "../util/json.ts";
import { type CommandContext, hostPaths } from "./context.ts";

/** How long `check` waits for the intake to answer. */
const INTAKE_CHECK_TIMEOUT_MS = 5_000;
/** Budget of the host view's few procfs reads. */
const HOST_VIEW_TIMEOUT_MS = 5_000;

/**
 * `antimetal-agent check`: what this host offers (kernel, BTF, ring buffer, CO-RE, capabilities,
 * libbpf), for every collector whether it can run here and why not, and whether the configured
 * intake answers. Exit 0 whatever it finds: it reports, it does not judge.
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
  const paths = hostPaths(ctx.config);
  const hostView = await detectHostView(defaultIo(paths).forOwner("host_view"), paths, AbortSignal.timeout(HOST_VIEW_TIMEOUT_MS));
  const intake = await probeIntake(ctx.config, ctx.logger);
  ctx.stdout(
    ctx.config.checkFormat === "json"
      ? stringifyExact({ ...full, hostView, intake }, 2) + "\n"
      : formatFeatureReport(full) + formatHostView(hostView) + formatIntake(intake),
  );
  return 0;
}

type IntakeProbe = { address: string; off: true } | ({ address: string } & IntakeCheckResult);

/** One empty Delta stream to the configured intake (no data sent), time-boxed. */
async function probeIntake(config: Config, logger: Logger): Promise<IntakeProbe> {
  const address = config.intakeAddress;
  if (address === "") return { address, off: true };
  const { checkIntake } = await import("../intake/index.ts");
  const result = await checkIntake({
    address,
    apiKey: config.intakeApiKey || undefined,
    apiKeyFile: config.intakeApiKeyFile || undefined,
    secure: config.intakeSecure,
    caFile: config.intakeCaFile || undefined,
    certFile: config.intakeClientCert || undefined,
    keyFile: config.intakeClientKey || undefined,
    logger,
    timeoutMs: INTAKE_CHECK_TIMEOUT_MS,
  });
  return { address, ...result };
}

function formatIntake(p: IntakeProbe): string {
  if ("off" in p) return 'intake: off (--intake-address "")\n';
  if (p.ok) return `intake ${p.address}: ok (${p.ms} ms)\n`;
  return `intake ${p.address}: failing: ${p.code}${p.reason ? ` (${p.reason})` : ""}: ${p.details} (${p.ms} ms)\n`;
}
