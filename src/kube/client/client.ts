// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Thin Kubernetes REST client over Bun's fetch with `tls: { ca, cert, key }`. Chosen over
 * @kubernetes/client-node because (a) client-node 2.x ignores CA and client certificates under Bun
 * (bun-stack.md section 2), (b) neither client-node version speaks the protobuf encoding, which the
 * agent needs to pass object bytes through unchanged, and (c) it saves ~3.3 MB of JS and ~95 ms of
 * startup. Auth: bearer token (inline, tokenFile re-read so rotated SA tokens work), client
 * certificate, basic, exec credential plugins (cached until expiry, refreshed on 401).
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeEnvelope, getString, hasMagic } from "../pb.ts";
import type { KubeConfig } from "./config.ts";

export const PROTOBUF = "application/vnd.kubernetes.protobuf";
export const PROTOBUF_WATCH = "application/vnd.kubernetes.protobuf;stream=watch";

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

interface ExecCredential {
  token?: string;
  cert?: string;
  key?: string;
  expiresAt?: number;
}

export interface RequestOptions {
  method?: string;
  accept?: string;
  body?: string | Uint8Array;
  contentType?: string;
  signal?: AbortSignal;
  /** Disable Bun's fetch timeout (long-running watches). */
  noTimeout?: boolean;
}

export class KubeClient {
  private execCred: ExecCredential | undefined;
  private execInFlight: Promise<ExecCredential> | undefined;
  private tokenCache: { token: string; readAt: number } | undefined;
  readonly server: string;

  constructor(readonly config: KubeConfig) {
    this.server = config.server;
  }

  private async credentials(): Promise<{ token?: string; cert?: string; key?: string; basic?: string }> {
    const c = this.config;
    if (c.exec) {
      const cred = await this.exec();
      return { token: cred.token, cert: cred.cert ?? c.cert, key: cred.key ?? c.key };
    }
    let token = c.token;
    if (!token && c.tokenFile) token = this.readTokenFile(c.tokenFile);
    const basic =
      c.username !== undefined && c.password !== undefined ? Buffer.from(`${c.username}:${c.password}`).toString("base64") : undefined;
    return { token, cert: c.cert, key: c.key, basic };
  }

  /** Re-reads the token file at most once a minute (kubelet rotates projected tokens well before expiry). */
  private readTokenFile(file: string): string {
    const now = Date.now();
    if (this.tokenCache && now - this.tokenCache.readAt < 60_000) return this.tokenCache.token;
    const token = fs.readFileSync(file, "utf8").trim();
    this.tokenCache = { token, readAt: now };
    return token;
  }

  private async exec(force = false): Promise<ExecCredential> {
    const cached = this.execCred;
    if (!force && cached && (cached.expiresAt === undefined || cached.expiresAt - Date.now() > 10_000)) return cached;
    if (this.execInFlight) return this.execInFlight;
    this.execInFlight = runExec(this.config).finally(() => {
      this.execInFlight = undefined;
    });
    this.execCred = await this.execInFlight;
    return this.execCred;
  }

  /** Raw request. Throws KubeApiError for non-2xx (after one credential refresh on 401 for exec/tokenFile). */
  async request(p: string, opts: RequestOptions = {}): Promise<Response> {
    let res = await this.once(p, opts);
    if (res.status === 401 && (this.config.exec || this.config.tokenFile)) {
      await res.body?.cancel().catch(() => undefined);
      this.tokenCache = undefined;
      if (this.config.exec) await this.exec(true);
      res = await this.once(p, opts);
    }
    if (!res.ok) throw await apiError(res);
    return res;
  }

  private async once(p: string, opts: RequestOptions): Promise<Response> {
    const cred = await this.credentials();
    const headers: Record<string, string> = { accept: opts.accept ?? "application/json", "user-agent": "antimetal-agent" };
    if (cred.token) headers.authorization = `Bearer ${cred.token}`;
    else if (cred.basic) headers.authorization = `Basic ${cred.basic}`;
    if (opts.body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
    const tls: Record<string, unknown> = {};
    if (this.config.ca) tls.ca = this.config.ca;
    if (cred.cert && cred.key) {
      tls.cert = cred.cert;
      tls.key = cred.key;
    }
    if (this.config.insecureSkipTLSVerify) tls.rejectUnauthorized = false;
    if (this.config.tlsServerName) tls.serverName = this.config.tlsServerName;
    const init: RequestInit & { tls?: Record<string, unknown>; timeout?: boolean } = {
      method: opts.method ?? "GET",
      headers,
      body: opts.body,
      signal: opts.signal,
      tls,
    };
    if (opts.noTimeout) init.timeout = false;
    return await fetch(this.server + p, init);
  }

  async getJSON<T = unknown>(p: string, signal?: AbortSignal): Promise<T> {
    const res = await this.request(p, { signal });
    return (await res.json()) as T;
  }

  async sendJSON<T = unknown>(method: string, p: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(p, { method, body: JSON.stringify(body), signal });
    return (await res.json()) as T;
  }

  async getBytes(p: string, accept = PROTOBUF, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await this.request(p, { accept, signal });
    return new Uint8Array(await res.arrayBuffer());
  }
}

async function apiError(res: Response): Promise<KubeApiError> {
  let reason = "";
  let message = `${res.status} ${res.statusText}`;
  try {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (hasMagic(bytes)) {
      // metav1.Status in protobuf: message=3, reason=4
      const st = decodeEnvelope(bytes).raw;
      const all = { start: 0, end: st.length };
      reason = getString(st, all, 4);
      const msg = getString(st, all, 3);
      if (msg) message = `${res.status}: ${msg}`;
      return new KubeApiError(res.status, reason, message);
    }
    const text = new TextDecoder().decode(bytes);
    try {
      const st = JSON.parse(text) as { reason?: string; message?: string };
      reason = st.reason ?? "";
      if (st.message) message = `${res.status}: ${st.message}`;
    } catch {
      if (text && text.length < 500 && /^[\x20-\x7e\s]*$/.test(text)) message = `${res.status}: ${text.trim()}`;
    }
  } catch {
    // body unreadable
  }
  return new KubeApiError(res.status, reason, message);
}

async function runExec(cfg: KubeConfig): Promise<ExecCredential> {
  const e = cfg.exec!;
  const cmd = e.command.includes(path.sep) && !path.isAbsolute(e.command) ? path.join(e.baseDir, e.command) : e.command;
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  for (const kv of e.env) env[kv.name] = kv.value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: e.apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      cluster: { server: cfg.server, "certificate-authority-data": cfg.ca ? Buffer.from(cfg.ca).toString("base64") : undefined },
    },
  });
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, e.args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`exec credential plugin ${e.command}: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`exec credential plugin ${e.command} exited ${code}: ${stderr.trim().slice(0, 300)}`));
    });
  });
  let parsed: { status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string } };
  try {
    parsed = JSON.parse(out);
  } catch {
    throw new Error(`exec credential plugin ${e.command}: output is not JSON`);
  }
  const st = parsed.status ?? {};
  if (!st.token && !(st.clientCertificateData && st.clientKeyData)) {
    throw new Error(`exec credential plugin ${e.command}: no token or client certificate in status`);
  }
  return {
    token: st.token,
    cert: st.clientCertificateData,
    key: st.clientKeyData,
    expiresAt: st.expirationTimestamp ? Date.parse(st.expirationTimestamp) : undefined,
  };
}
