// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The Node test config service (test/config-server/server.mjs) as a child process, and its control API.

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { METRIC_TYPES } from "../../src/perf/collector.ts";
import type { Pki } from "../intake/harness.ts";

const SERVER = path.resolve(import.meta.dir, "../config-server/server.mjs");

export interface PushedConfig {
  name: string;
  collector?: string;
  interval_seconds?: number;
  version?: string;
  ttl_seconds?: number;
  type?: string;
  data_b64?: string;
}

export interface ConfigServerState {
  streams: Array<{ id: number; status: string; authorized: boolean }>;
  initials: Array<{ stream: number; names: string[] }>;
  answers: Array<{ stream: number; seq: string; type: "ACK" | "NACK"; errors: Array<{ type: string; name: string; reason: string }> }>;
  violations: Array<{ stream: number; violation: string }>;
  instanceIds: string[];
  open: number;
  queued: number;
}

export class ConfigServer {
  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    readonly controlPort: number,
    readonly stderr: string[],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(opts: { pki: Pki; apiKey?: string; port?: number }): Promise<ConfigServer> {
    const args = [SERVER, "--cert", opts.pki.serverCert, "--key", opts.pki.serverKey, "--port", String(opts.port ?? 0)];
    if (opts.apiKey !== undefined) args.push("--api-key", opts.apiKey);
    // the collectors a supported_collectors list may name: every metric type of this agent
    args.push("--collectors", METRIC_TYPES.join(","));
    const proc = spawn("node", args, { stdio: ["ignore", "pipe", "pipe"] });
    const stderr: string[] = [];
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => void stderr.push(d));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once("line", resolve);
      proc.once("exit", (code) => reject(new Error(`config server exited ${code}: ${stderr.join("")}`)));
    });
    const { port, control } = JSON.parse(line);
    return new ConfigServer(proc, port, control, stderr);
  }

  async push(configs: PushedConfig[]): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${this.controlPort}/push`, { method: "POST", body: JSON.stringify({ configs }) });
    if (!r.ok) throw new Error(`push: ${r.status} ${await r.text()}`);
  }

  async cmd(c: Record<string, unknown>): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${this.controlPort}/cmd`, { method: "POST", body: JSON.stringify(c) });
    if (!r.ok) throw new Error(`cmd: ${r.status} ${await r.text()}`);
  }

  async state(): Promise<ConfigServerState> {
    return (await (await fetch(`http://127.0.0.1:${this.controlPort}/state`)).json()) as ConfigServerState;
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGKILL");
    await exited;
  }
}
