// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Shared pieces of the intake integration tests and benchmark: throwaway PKI made with openssl,
// the Node test intake server as a child process, and its HTTP control API.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export const ROOT = path.resolve(import.meta.dir, "../..");
export const SERVER = path.join(ROOT, "test/intake-server/server.mjs");

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  cleanup(): void;
}

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA, a server cert for 127.0.0.1, ::1 and localhost, and a client cert (CN=agent), EC P-256. */
export function makePki(opts: { serverSans?: string } = {}): Pki {
  const dir = mkdtempSync(path.join(tmpdir(), "intake-pki-"));
  const p = (f: string) => path.join(dir, f);
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=intake-test-ca",
  );
  writeFileSync(p("server.ext"), `subjectAltName=${opts.serverSans ?? "IP:127.0.0.1,IP:::1,DNS:localhost"}\nextendedKeyUsage=serverAuth\n`);
  writeFileSync(p("client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, cn] of [
    ["server", "localhost"],
    ["client", "agent"],
  ] as const) {
    openssl(
      dir,
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    );
    openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  }
  return {
    dir,
    ca: p("ca.pem"),
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface ServerState {
  streams: { total: number; acked: number; failed: number; open: number };
  records: number;
  /** Write-to-receipt latency of objects tagged t=<write time ms>. */
  latencyMs: { n: number; p50: number; p90: number; p99: number; max: number } | null;
  heartbeats: number;
  lastHeartbeat: { stream: number; at: number; deltaVersion: string } | null;
  invalid: number;
  expired: number;
  live: Array<{ key: string; name: string; deltaVersion: string; tags: Record<string, string>; expiresInMs: number }>;
}

export interface ServerRecord {
  stream: number;
  at: number;
  op: string;
  key: string;
  name: string;
  type: string;
  kind: string;
  tags: Record<string, string>;
  deltaVersion: string;
}

export interface Records {
  records: ServerRecord[];
  streams: Record<string, string>;
  invalid: Array<{ stream: number; reason: string }>;
  expired: Array<{ key: string; at: number }>;
}

export class IntakeServer {
  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    readonly controlPort: number,
    readonly stderr: string[],
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(opts: {
    pki?: Pki;
    apiKey?: string;
    port?: number;
    host?: string;
    mtls?: boolean;
    rawGarbage?: boolean;
    insecure?: boolean;
    recordFile?: string;
    quiet?: boolean;
    noRecord?: boolean;
    maxConnectionAgeMs?: number;
    maxConnectionAgeGraceMs?: number;
  }): Promise<IntakeServer> {
    const args = [SERVER, "--port", String(opts.port ?? 0)];
    if (opts.host) args.push("--host", opts.host);
    if (opts.insecure) args.push("--insecure");
    else args.push("--cert", opts.pki!.serverCert, "--key", opts.pki!.serverKey);
    if (opts.mtls) args.push("--client-ca", opts.pki!.ca);
    if (opts.apiKey !== undefined) args.push("--api-key", opts.apiKey);
    if (opts.rawGarbage) args.push("--raw-garbage");
    if (opts.recordFile) args.push("--record-file", opts.recordFile);
    if (opts.quiet) args.push("--quiet");
    if (opts.noRecord) args.push("--no-record");
    if (opts.maxConnectionAgeMs !== undefined) args.push("--max-connection-age-ms", String(opts.maxConnectionAgeMs));
    if (opts.maxConnectionAgeGraceMs !== undefined) args.push("--max-connection-age-grace-ms", String(opts.maxConnectionAgeGraceMs));
    const proc = spawn("node", args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const stderr: string[] = [];
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr.push(d);
      if (process.env.INTAKE_TEST_DEBUG) process.stderr.write(d);
    });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      rl.once("line", resolve);
      proc.once("exit", (code) => reject(new Error(`intake server exited ${code}: ${stderr.join("")}`)));
    });
    const { port, control } = JSON.parse(line);
    return new IntakeServer(proc, port, control, stderr);
  }

  async cmd(c: Record<string, unknown>): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${this.controlPort}/cmd`, { method: "POST", body: JSON.stringify(c) });
    if (!r.ok) throw new Error(`control: ${r.status} ${await r.text()}`);
  }

  async state(): Promise<ServerState> {
    return (await (await fetch(`http://127.0.0.1:${this.controlPort}/state`)).json()) as ServerState;
  }

  async records(): Promise<Records> {
    return (await (await fetch(`http://127.0.0.1:${this.controlPort}/records`)).json()) as Records;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill(signal);
    await exited;
  }
}

/** Records and stream outcomes from a --record-file, across server incarnations. Stream ids are "<inc>/<n>". */
export function readRecordFile(file: string): { records: Array<ServerRecord & { sid: string }>; status: Map<string, string> } {
  const records: Array<ServerRecord & { sid: string }> = [];
  const status = new Map<string, string>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  for (const line of text.split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line);
    const sid = `${r.inc}/${r.stream}`;
    if (r.t === "stream") status.set(sid, r.status);
    else records.push({ ...r, sid });
  }
  return { records, status };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}
