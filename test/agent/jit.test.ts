// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// run --jit on the compiled binary: the process replaces itself (same pid) with JavaScriptCore's tier
// variables set, says what it runs with, and programs it starts do not inherit them; and the pinned
// Bun honours those variables (no FTL / no DFG compilations of a hot function).

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type AgentProcess, ROOT, startAgent } from "../helpers/agent-process.ts";

const STANDALONE = [
  "--data-directory",
  "",
  "--intake-address",
  "",
  "--enable-kubernetes-controller=false",
  "--enable-container-discovery=false",
];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jit-test-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The tier variables in the live process's environment (what JSC read at its start). */
function jscVars(pid: number): string[] {
  return fs
    .readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .filter((kv) => kv.startsWith("BUN_JSC_") || kv.startsWith("ANTIMETAL_JIT_"))
    .sort();
}

async function started(args: string[], env: Record<string, string> = {}): Promise<{ agent: AgentProcess; line: Record<string, unknown> }> {
  const agent = await startAgent([...STANDALONE, ...args], env);
  const line = await agent.waitForLog((r) => r.msg === "starting antimetal-agent");
  return { agent, line };
}

describe("run --jit", () => {
  test("default no-ftl: the same pid runs with BUN_JSC_useFTLJIT=0, and says so", async () => {
    const { agent, line } = await started([]);
    try {
      expect(line.jit).toBe("no-ftl");
      expect(line.pid).toBe(agent.proc.pid);
      expect(jscVars(agent.proc.pid)).toEqual(["ANTIMETAL_JIT_APPLIED=1", "BUN_JSC_useFTLJIT=0"]);
      expect(agent.logs.filter((r) => r.level === "warn")).toEqual([]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
  test("--jit full runs as started; ANTIMETAL_RUN_JIT=baseline turns DFG off", async () => {
    const full = await started(["--jit", "full"]);
    try {
      expect(full.line.jit).toBe("full");
      expect(jscVars(full.agent.proc.pid)).toEqual([]);
    } finally {
      await full.agent.stop();
    }
    const base = await started([], { ANTIMETAL_RUN_JIT: "baseline" });
    try {
      expect(base.line.jit).toBe("baseline");
      expect(jscVars(base.agent.proc.pid)).toEqual(["ANTIMETAL_JIT_APPLIED=1", "BUN_JSC_useDFGJIT=0"]);
    } finally {
      await base.agent.stop();
    }
  });
  test("a BUN_JSC_ variable set by the user wins, with a warning naming both", async () => {
    const { agent, line } = await started(["--jit", "baseline"], { BUN_JSC_useFTLJIT: "1" });
    try {
      expect(line.jit).toBe("full");
      const warn = await agent.waitForLog((r) => r.msg === "JIT tiers differ from --jit");
      expect(warn).toMatchObject({
        jit: "full",
        requested: "baseline",
        reason: "baseline asked for; the environment's BUN_JSC_ variables win",
      });
    } finally {
      await agent.stop();
    }
  });
  test("a bad value exits 2 naming the flag, before anything starts", () => {
    const r = spawnSync(path.join(ROOT, "dist/antimetal-agent"), ["run", "--jit", "fastest"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invalid --jit (flag --jit): Invalid option: expected one of "full"|"no-ftl"|"baseline"');
  });
  test("a program the agent starts (a kubeconfig exec credential plugin) does not inherit the tier variables", async () => {
    const out = path.join(dir, "plugin-env");
    const plugin = path.join(dir, "cred.sh");
    fs.writeFileSync(
      plugin,
      `#!/bin/sh\nenv > ${out}\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'\n`,
      { mode: 0o755 },
    );
    const kc = path.join(dir, "kubeconfig");
    fs.writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\nclusters:\n- name: x\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: x\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}\n`,
    );
    const agent = await startAgent([
      "--data-directory",
      "",
      "--intake-address",
      "",
      "--kubeconfig",
      kc,
      "--enable-container-discovery=false",
    ]);
    try {
      const deadline = Date.now() + 15_000;
      while (!fs.existsSync(out) && Date.now() < deadline) await Bun.sleep(50);
      await Bun.sleep(100); // the plugin's env finished writing
      const vars = fs.readFileSync(out, "utf8").split("\n");
      expect(vars.filter((kv) => kv.startsWith("BUN_JSC_") || kv.startsWith("ANTIMETAL_JIT_"))).toEqual([]);
      expect(jscVars(agent.proc.pid)).toEqual(["ANTIMETAL_JIT_APPLIED=1", "BUN_JSC_useFTLJIT=0"]);
    } finally {
      await agent.stop();
    }
  });
});

describe("the pinned Bun honours the tier variables", () => {
  const script = path.join(dir, "hot.ts");
  fs.writeFileSync(
    script,
    "function hot(x: number) { let s = 0; for (let i = 0; i < 100; i++) s += (x * i) % 7; return s; }\nlet t = 0;\nfor (let i = 0; i < 5e6; i++) t += hot(i);\nconsole.log(t > 0);\n",
  );
  /** Lines JSC reports for `tier` compilations of the hot function. */
  function compiles(env: Record<string, string>, tier: "DFG" | "FTL"): number {
    const r = spawnSync(path.join(ROOT, "node_modules/.bin/bun"), [script], {
      encoding: "utf8",
      env: { ...process.env, ...env, [`BUN_JSC_report${tier}CompileTimes`]: "1" },
    });
    expect(r.status).toBe(0);
    return (r.stdout + r.stderr).split("\n").filter((l) => l.startsWith("Optimized hot#") && l.includes(`using ${tier} `)).length;
  }
  test("FTL compiles the hot function by default and never with BUN_JSC_useFTLJIT=0", () => {
    expect(compiles({}, "FTL")).toBeGreaterThan(0);
    expect(compiles({ BUN_JSC_useFTLJIT: "0" }, "FTL")).toBe(0);
    expect(compiles({ BUN_JSC_useFTLJIT: "0" }, "DFG")).toBeGreaterThan(0);
  });
  test("DFG never compiles it with BUN_JSC_useDFGJIT=0", () => {
    expect(compiles({}, "DFG")).toBeGreaterThan(0);
    expect(compiles({ BUN_JSC_useDFGJIT: "0" }, "DFG")).toBe(0);
    expect(compiles({ BUN_JSC_useDFGJIT: "0" }, "FTL")).toBe(0);
  });
});
