// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Tests of the compiled binary: the CLI contract (version, bad flags exit 2, --help, --print-config) and
// `run` (probes, /metrics, intake down, SIGTERM under load, execsnoop, port in use).

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentProcess, requireBinary, startAgent, waitForStatus } from "../helpers/agent-process.ts";

const STANDALONE = ["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false"];
let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
});

async function exec(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([requireBinary(), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe("compiled binary: CLI contract", () => {
  test("version prints version, revision and build date", async () => {
    const { stdout, code } = await exec(["version"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^antimetal-agent \d+\.\d+\.\d+ \(revision [0-9a-f]{7,}(-dirty)?, built \d{4}-\d\d-\d\dT/);
  });

  test("run --bogus exits 2 naming the flag", async () => {
    const { stderr, code } = await exec(["run", "--bogus"]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("unknown flag --bogus");
  });

  test("bad duration, relative host path and unreadable config exit 2 naming the field", async () => {
    for (const [args, env, needle] of [
      [["run", "--max-stream-age", "soon"], {}, "--max-stream-age"],
      [["collect", "--host-proc", "proc"], {}, "--host-proc"],
      [["run"], { HOST_SYS: "relative/sys" }, "env HOST_SYS"],
      [["run", "--config", "/nonexistent/agent.yaml"], {}, "--config (/nonexistent/agent.yaml): cannot read"],
    ] as Array<[string[], Record<string, string>, string]>) {
      const { stderr, code } = await exec(args, env);
      expect(code).toBe(2);
      expect(stderr).toContain(needle);
    }
  });

  test("every subcommand has truthful --help", async () => {
    for (const cmd of ["run", "collect", "store", "check", "version"]) {
      const { stdout, code } = await exec([cmd, "--help"]);
      expect(code).toBe(0);
      expect(stdout).toStartWith(`Usage: antimetal-agent ${cmd}`);
    }
    const { stdout } = await exec(["run", "--help"]);
    for (const flag of [
      "--metrics-bind-address ADDR",
      "(default :8080;",
      "--health-probe-bind-address",
      "--leader-elect",
      "--intake-api-key",
      "--max-stream-age",
      "(default 10m;",
      "ANTIMETAL_INTAKE_API_KEY",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  test("run --print-config shows the effective config with secrets redacted; flag > env > file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-cfg-"));
    try {
      writeFileSync(join(dir, "agent.yaml"), "max-stream-age: 3m\nlog-level: debug\nintake-api-key: from-file-secret\n");
      const { stdout, code } = await exec(["run", "--print-config", "--config", join(dir, "agent.yaml"), "--log-level", "warn"], {
        ANTIMETAL_MAX_STREAM_AGE: "2m",
      });
      expect(code).toBe(0);
      const cfg = JSON.parse(stdout);
      expect(cfg["max-stream-age"]).toBe("2m");
      expect(cfg["log-level"]).toBe("warn");
      expect(cfg["intake-api-key"]).toBe("[redacted]");
      expect(stdout).not.toContain("from-file-secret");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("compiled binary: run", () => {
  test("probes and /metrics answer; readiness and self-metrics are there", async () => {
    agent = await startAgent(STANDALONE);
    const probes = `http://127.0.0.1:${agent.ports.probes}`;
    expect((await fetch(`${probes}/healthz`)).status).toBe(200);
    expect((await fetch(`${probes}/livez`)).status).toBe(200);
    await waitForStatus(`${probes}/readyz`, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`)).text();
    for (const name of [
      "antimetal_build_info{",
      "antimetal_agent_uptime_seconds",
      "process_resident_memory_bytes",
      "antimetal_event_loop_lag_seconds",
      'antimetal_component_state{component="http",state="running"} 1',
    ]) {
      expect(metrics).toContain(name);
    }
  });

  test("a down intake keeps the agent ready, and the api key never appears in logs", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const deadPort = closed.port;
    closed.stop(true);
    agent = await startAgent(
      [
        "--data-directory",
        "",
        "--enable-kubernetes-controller=false",
        "--intake-address",
        `127.0.0.1:${deadPort}`,
        "--intake-secure=false",
        "--log-level",
        "debug",
      ],
      { ANTIMETAL_INTAKE_API_KEY: "super-secret-key-123" },
    );
    await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200);
    await agent.waitForLog((l) => l.msg === "intake started");
    await Bun.sleep(1500);
    expect((await fetch(`http://127.0.0.1:${agent.ports.probes}/readyz`)).status).toBe(200);
    await agent.stop();
    expect(JSON.stringify(agent.logs)).not.toContain("super-secret-key-123");
  });

  test("SIGTERM under load: readiness drops, exit 0 within the budget", async () => {
    agent = await startAgent([
      ...STANDALONE,
      "--shutdown-timeout",
      "5s",
      "--enable-performance-collectors",
      "--performance-collector-interval",
      "200ms",
    ]);
    const base = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
    await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200);
    let stop = false;
    const load = Array.from({ length: 8 }, async () => {
      while (!stop)
        await fetch(base)
          .then((r) => r.text())
          .catch(() => undefined);
    });
    await Bun.sleep(500);
    const t0 = performance.now();
    agent.proc.kill("SIGTERM");
    const code = await agent.proc.exited;
    const elapsed = performance.now() - t0;
    stop = true;
    await Promise.all(load);
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan(5000);
    expect(agent.logs.some((l) => l.msg === "shutting down")).toBe(true);
    expect(agent.logs.some((l) => l.msg === "stopped" && l.clean === true)).toBe(true);
  });

  test("--collectors all,execsnoop: host metrics and exec tracing from the compiled binary, one tracer", async () => {
    agent = await startAgent([...STANDALONE, "--enable-performance-collectors", "--collectors", "all,execsnoop"]);
    await agent.waitForLog((l) => l.msg === "tracing execve");
    await waitForStatus(`http://127.0.0.1:${agent.ports.probes}/readyz`, 200);
    for (let i = 0; i < 20; i++) await Bun.spawn(["/bin/true", `antimetal-e2e-${i}`]).exited;
    const metricsUrl = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
    let text = "";
    for (let i = 0; i < 50; i++) {
      text = await (await fetch(metricsUrl)).text();
      const m = /^antimetal_execsnoop_events_total (\d+)/m.exec(text);
      if (m && Number(m[1]) >= 20 && text.includes("node_cpu_seconds_total")) break;
      await Bun.sleep(100);
    }
    expect(Number(/^antimetal_execsnoop_events_total (\d+)/m.exec(text)?.[1] ?? 0)).toBeGreaterThanOrEqual(20);
    expect(text).toContain('node_cpu_seconds_total{cpu="0",mode="idle"}');
    expect(text).toContain('antimetal_component_state{component="execsnoop",state="running"} 1');
    expect(agent.logs.filter((l) => l.msg === "execsnoop attached")).toHaveLength(1);
  });

  test("a port already in use fails the start with the address in the message", async () => {
    const blocker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    try {
      const p = Bun.spawn(
        [requireBinary(), "run", ...STANDALONE, "--health-probe-bind-address", `127.0.0.1:${blocker.port}`, "--metrics-bind-address", "0"],
        { stderr: "pipe" },
      );
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot listen on 127.0.0.1:${blocker.port}`);
    } finally {
      blocker.stop(true);
    }
  });
});
