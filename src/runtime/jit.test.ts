// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// --jit at startup: what argv and the environment ask for, what the process runs with, and when it
// replaces itself (with a recording exec in place of execve).

import { describe, expect, test } from "bun:test";
import { applyJitTiers, type Exec, effectiveJitTiers, jitEnv, requestedJitTiers } from "./jit.ts";

describe("requestedJitTiers reads --jit and ANTIMETAL_RUN_JIT as the option parser does", () => {
  test.each([
    [["run"], {}, "no-ftl"],
    [["run", "--jit", "full"], {}, "full"],
    [["run", "--jit=baseline"], {}, "baseline"],
    [["run"], { ANTIMETAL_RUN_JIT: "full" }, "full"],
    [["run", "--jit", "baseline"], { ANTIMETAL_RUN_JIT: "full" }, "baseline"],
    [["run", "--jit", "full", "--jit=no-ftl"], {}, "no-ftl"],
    [["run", "--", "--jit=full"], {}, "no-ftl"],
    [["run", "-jit", "full"], {}, "full"],
    [["run", "-jit=baseline"], {}, "baseline"],
  ] as const)("%j %j → %s", (argv, env, want) => {
    expect(requestedJitTiers(argv, env)).toBe(want);
  });
  test("other commands and unknown values ask for nothing (the option parser reports a bad value)", () => {
    expect(requestedJitTiers(["collect", "--jit", "full"], {})).toBeUndefined();
    expect(requestedJitTiers(["version"], {})).toBeUndefined();
    expect(requestedJitTiers([], {})).toBeUndefined();
    expect(requestedJitTiers(["run", "--jit", "fast"], {})).toBeUndefined();
    expect(requestedJitTiers(["run", "--jit"], {})).toBeUndefined();
    expect(requestedJitTiers(["run"], { ANTIMETAL_RUN_JIT: "" })).toBeUndefined();
  });
});

test("effectiveJitTiers: DFG off is baseline whatever FTL says; 0 and false (any case) turn a tier off", () => {
  expect(effectiveJitTiers({})).toBe("full");
  expect(effectiveJitTiers({ BUN_JSC_useFTLJIT: "0" })).toBe("no-ftl");
  expect(effectiveJitTiers({ BUN_JSC_useFTLJIT: "False" })).toBe("no-ftl");
  expect(effectiveJitTiers({ BUN_JSC_useFTLJIT: "1" })).toBe("full");
  expect(effectiveJitTiers({ BUN_JSC_useDFGJIT: "0" })).toBe("baseline");
  expect(effectiveJitTiers({ BUN_JSC_useDFGJIT: "false", BUN_JSC_useFTLJIT: "1" })).toBe("baseline");
  for (const t of ["full", "no-ftl", "baseline"] as const) expect(effectiveJitTiers(jitEnv(t))).toBe(t);
});

function recorder(): { exec: Exec; calls: Array<{ file: string; args: string[]; env: NodeJS.ProcessEnv }> } {
  const calls: Array<{ file: string; args: string[]; env: NodeJS.ProcessEnv }> = [];
  return { calls, exec: (file, args, env) => void calls.push({ file, args, env }) };
}

describe("applyJitTiers", () => {
  test("replaces the process with the same arguments and the tier variables when they are not in effect", () => {
    const { exec, calls } = recorder();
    const r = applyJitTiers(["run", "--jit", "baseline", "--log-level", "debug"], { PATH: "/bin" }, exec);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.file).toBe(process.execPath);
    expect(calls[0]!.args.slice(1)).toEqual(["run", "--jit", "baseline", "--log-level", "debug"]);
    expect(calls[0]!.env).toEqual({ PATH: "/bin", BUN_JSC_useDFGJIT: "0", ANTIMETAL_JIT_APPLIED: "1" });
    // a recording exec returns; a real one does not
    expect(r).toEqual({ tiers: "full", note: "baseline asked for; the process was not replaced", applied: true });
  });
  test("the default asks for no-ftl", () => {
    const { exec, calls } = recorder();
    applyJitTiers(["run"], {}, exec);
    expect(calls[0]!.env).toEqual({ BUN_JSC_useFTLJIT: "0", ANTIMETAL_JIT_APPLIED: "1" });
  });
  test("full, other commands and unknown values run as they are", () => {
    const { exec, calls } = recorder();
    expect(applyJitTiers(["run", "--jit=full"], {}, exec)).toEqual({ tiers: "full", applied: true });
    expect(applyJitTiers(["collect"], {}, exec)).toEqual({ tiers: "full", applied: true });
    expect(applyJitTiers(["run", "--jit", "fast"], {}, exec)).toEqual({ tiers: "full", applied: true });
    expect(calls).toHaveLength(0);
  });
  test("in the replaced process: no second replacement, and the variables the agent set are removed from the environment", () => {
    const { exec, calls } = recorder();
    const env: NodeJS.ProcessEnv = { BUN_JSC_useFTLJIT: "0", ANTIMETAL_JIT_APPLIED: "1", HOME: "/root" };
    expect(applyJitTiers(["run"], env, exec)).toEqual({ tiers: "no-ftl", applied: true });
    expect(env).toEqual({ HOME: "/root" });
    expect(calls).toHaveLength(0);
  });
  test("a BUN_JSC_ tier variable the user set wins, is kept, and the reason is noted", () => {
    const { exec, calls } = recorder();
    const env: NodeJS.ProcessEnv = { BUN_JSC_useDFGJIT: "0" };
    expect(applyJitTiers(["run", "--jit", "full"], env, exec)).toEqual({
      tiers: "baseline",
      note: "full asked for; the environment's BUN_JSC_ variables win",
      applied: true,
    });
    expect(env).toEqual({ BUN_JSC_useDFGJIT: "0" });
    expect(calls).toHaveLength(0);
  });
  test("a failed execve leaves the process running as it is, with the reason", () => {
    const failing: Exec = () => {
      throw new Error("EACCES: permission denied, execve");
    };
    expect(applyJitTiers(["run"], {}, failing)).toEqual({
      tiers: "full",
      note: "no-ftl asked for; restarting with it failed: EACCES: permission denied, execve",
      applied: true,
    });
  });
});
