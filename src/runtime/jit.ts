// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Which JavaScriptCore compiler tiers `run` uses (--jit). JSC reads its options once, from
// BUN_JSC_* environment variables, before any JavaScript runs, so the compiled binary applies a
// choice by replacing itself (execve: same pid, same argv) with those variables set, before it loads
// anything else. The FTL tier costs ~9 MiB of peak RSS at 10k pods for no CPU gain on the agent's
// bursts of work; without the DFG tier too, idle RSS is ~5 MiB lower but the intake costs ~13% more
// CPU (docs/performance.md, "JIT tiers").

/** full: LLInt, Baseline, DFG and FTL; no-ftl: up to DFG; baseline: LLInt and Baseline only. */
export const JIT_TIERS = ["full", "no-ftl", "baseline"] as const;
export type JitTiers = (typeof JIT_TIERS)[number];
export const DEFAULT_JIT_TIERS: JitTiers = "no-ftl";

/** Set in the replaced process: the BUN_JSC_* variables in its environment were set by the agent, not by the user. */
const APPLIED_MARK = "ANTIMETAL_JIT_APPLIED";
const JSC_VARS = { dfg: "BUN_JSC_useDFGJIT", ftl: "BUN_JSC_useFTLJIT" } as const;

/** The environment variables that give `tiers` (none for full). */
export function jitEnv(tiers: JitTiers): Record<string, string> {
  if (tiers === "baseline") return { [JSC_VARS.dfg]: "0" };
  if (tiers === "no-ftl") return { [JSC_VARS.ftl]: "0" };
  return {};
}

/** The tiers this process runs with, from the variables JSC read at its start. */
export function effectiveJitTiers(env: Record<string, string | undefined>): JitTiers {
  const off = (v: string | undefined) => v !== undefined && /^(0|false)$/i.test(v.trim());
  if (off(env[JSC_VARS.dfg])) return "baseline";
  if (off(env[JSC_VARS.ftl])) return "no-ftl";
  return "full";
}

/**
 * The tiers `argv` (the binary's arguments after the program) and `env` ask for, read the way the
 * option parser reads --jit and ANTIMETAL_RUN_JIT; undefined when the command is not `run` or the value
 * is not a known one (the option parser then reports it).
 */
export function requestedJitTiers(argv: readonly string[], env: Record<string, string | undefined>): JitTiers | undefined {
  if (argv[0] !== "run") return undefined;
  let value: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const raw = argv[i]!;
    if (raw === "--") break;
    const a = raw.startsWith("-") && !raw.startsWith("--") ? `-${raw}` : raw; // -jit as --jit
    if (a === "--jit") value = argv[++i] ?? "";
    else if (a.startsWith("--jit=")) value = a.slice("--jit=".length);
  }
  value ??= env.ANTIMETAL_RUN_JIT ?? DEFAULT_JIT_TIERS;
  return (JIT_TIERS as readonly string[]).includes(value) ? (value as JitTiers) : undefined;
}

export interface JitStartup {
  /** What this process runs with. */
  tiers: JitTiers;
  /** Why it runs with other tiers than asked for, when it does. */
  note?: string;
  /** Started through applyJitTiers (the compiled binary's entry), not from source. */
  applied: boolean;
}

/** execve(2): replaces the process image and does not return (process.execve). */
export type Exec = (file: string, args: string[], env: NodeJS.ProcessEnv) => void;

let atStart: JitStartup | undefined;
/** What applyJitTiers decided at the start (when the process did not start through it: the tiers its environment gives). */
export function jitAtStart(): JitStartup {
  return atStart ?? { tiers: effectiveJitTiers(process.env), applied: false };
}

/**
 * Replaces the process with itself under the requested tiers' variables when they are not in effect,
 * unless the user set a BUN_JSC_ tier variable (it wins). In the replaced process, removes the
 * variables the agent set from process.env, so programs the agent starts do not inherit them.
 * Returns only when no replacement happens (or it failed).
 */
export function applyJitTiers(argv: readonly string[], env: NodeJS.ProcessEnv, exec: Exec): JitStartup {
  atStart = { ...decide(argv, env, exec), applied: true };
  return atStart;
}

function decide(argv: readonly string[], env: NodeJS.ProcessEnv, exec: Exec): Omit<JitStartup, "applied"> {
  const tiers = effectiveJitTiers(env);
  if (env[APPLIED_MARK] !== undefined) {
    for (const k of [APPLIED_MARK, ...Object.values(JSC_VARS)]) delete env[k];
    return { tiers };
  }
  const wanted = requestedJitTiers(argv, env);
  if (wanted === undefined || wanted === tiers) return { tiers };
  if (Object.values(JSC_VARS).some((k) => env[k] !== undefined))
    return { tiers, note: `${wanted} asked for; the environment's BUN_JSC_ variables win` };
  try {
    exec(process.execPath, [process.argv0 || process.execPath, ...argv], { ...env, ...jitEnv(wanted), [APPLIED_MARK]: "1" });
  } catch (e) {
    return { tiers, note: `${wanted} asked for; restarting with it failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  return { tiers, note: `${wanted} asked for; the process was not replaced` };
}
