// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test helper: starts the compiled `antimetal-agent run` on ephemeral loopback ports, collects its JSON
// logs, and waits for log lines or an HTTP status.

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = join(import.meta.dir, "../..");
/** The compiled binary; `scripts/setup.sh` builds it before the tests run. */
export const AGENT_BINARY = join(ROOT, "dist/antimetal-agent");

export function requireBinary(): string {
  if (!existsSync(AGENT_BINARY)) throw new Error(`${AGENT_BINARY} is missing: run bash scripts/setup.sh (or bun scripts/build.ts) first`);
  return AGENT_BINARY;
}

export interface AgentProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Ports of the listeners, from the agent's "listening" log lines. */
  ports: Record<string, number>;
  /** Every log line so far (JSON records parsed). */
  logs: Array<Record<string, unknown>>;
  waitForLog(predicate: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * Starts `antimetal-agent run` with ephemeral loopback ports for probes and metrics (override with
 * args) and JSON logs, and resolves once both listeners are up.
 */
export async function startAgent(args: string[], env: Record<string, string> = {}, binary = requireBinary()): Promise<AgentProcess> {
  const proc = Bun.spawn(
    [binary, "run", "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "127.0.0.1:0", "--log-format", "json", ...args],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } },
  );
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  const ports: Record<string, number> = {};
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stderr) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          logs.push(rec);
          if (rec.msg === "listening" && typeof rec.listener === "string") ports[rec.listener] = rec.port as number;
        } catch {
          logs.push({ raw: line });
        }
        for (const w of waiters.splice(0)) w();
      }
    }
  })();

  const waitForLog = async (predicate: (r: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = logs.find(predicate);
      if (hit) return hit;
      if (proc.exitCode !== null)
        throw new Error(`agent exited with ${proc.exitCode}; logs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for a log line; logs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };

  const agent: AgentProcess = {
    proc,
    ports,
    logs,
    waitForLog,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
  await waitForLog((r) => r.msg === "listening" && r.listener === "metrics");
  await waitForLog((r) => r.msg === "listening" && r.listener === "probes");
  return agent;
}

export async function waitForStatus(url: string, status: number, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.status === status) return r;
      last = `${r.status} ${await r.text()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/** How many collections of `collector` the agent has finished, from its /metrics (0 before the first). */
export async function collectionCount(agent: AgentProcess, collector: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
  const m = new RegExp(`antimetal_collector_duration_seconds_count\\{collector="${collector}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}
