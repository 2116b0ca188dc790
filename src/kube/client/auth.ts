// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Credentials, TLS and proxy of one apiserver request, taken from @kubernetes/client-node's
 * KubeConfig (`applyToHTTPSOptions`: CA, client certificate, bearer token, token file, exec and OIDC
 * providers, basic auth, `as` impersonation) and applied to Bun `fetch` options ourselves, because
 * client-node's own fetch path loses the TLS settings under Bun. Adds what client-node lacks:
 * `as-groups`/`as-uid`/`as-user-extra` impersonation, HTTPS_PROXY/NO_PROXY, and a reload of the
 * whole config after a 401 (new exec credential, re-read token file).
 */

import type * as https from "node:https";
import type { KubeConfig as ClientNodeKubeConfig } from "@kubernetes/client-node/dist/config.js";
import { errorMessage } from "../../util/errors.ts";

/** Impersonation fields of a kubeconfig user that client-node does not read (it reads only `as`). */
export interface ImpersonationExtras {
  groups: string[];
  uid?: string;
  extra: Record<string, string[]>;
}

/** One loaded configuration: client-node's KubeConfig plus what it does not carry. */
export interface LoadedConfig {
  kc: ClientNodeKubeConfig;
  impersonation: ImpersonationExtras;
}

/** TLS options in the shape Bun `fetch` takes. */
export interface FetchTLS {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

export interface RequestAuth {
  /** Header pairs; a name may repeat (one Impersonate-Group per group). */
  headers: Array<[string, string]>;
  tls: FetchTLS;
  proxy?: string;
}

/** How long an exec credential plugin (or an OIDC refresh) may take before the request fails. */
const CREDENTIAL_TIMEOUT_MS = 30_000;

export class KubeAuth {
  private loaded: LoadedConfig;

  constructor(
    private readonly load: () => LoadedConfig,
    /** Where this config came from, for error messages (never contains secrets). */
    private readonly source: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.loaded = load();
  }

  /** client-node's KubeConfig as currently loaded (server, context, user). */
  get kubeConfig(): ClientNodeKubeConfig {
    return this.loaded.kc;
  }

  /** Whether a 401 may be cured by reloading: credentials that change over time (exec, OIDC, token file). */
  get refreshable(): boolean {
    const user = this.loaded.kc.getCurrentUser();
    return !!user && (!!user.exec || !!user.authProvider);
  }

  /** Loads the configuration again: fresh authenticators, so the next request re-runs exec and re-reads files. */
  refresh(): void {
    this.loaded = this.load();
  }

  async request(): Promise<RequestAuth> {
    const kc = this.loaded.kc;
    const opts: https.RequestOptions = { headers: {} };
    await withTimeout(kc.applyToHTTPSOptions(opts), CREDENTIAL_TIMEOUT_MS, `credentials for ${this.source}`);
    const headers: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      if (value === undefined) continue;
      // a token file written with a trailing newline would otherwise make the header invalid
      headers.push([name, String(value).trim()]);
    }
    const hasAuthorization = headers.some(([n]) => n.toLowerCase() === "authorization");
    if (!hasAuthorization && typeof opts.auth === "string")
      headers.push(["Authorization", `Basic ${Buffer.from(opts.auth).toString("base64")}`]);
    const imp = this.loaded.impersonation;
    for (const group of imp.groups) headers.push(["Impersonate-Group", group]);
    if (imp.uid) headers.push(["Impersonate-Uid", imp.uid]);
    for (const [key, values] of Object.entries(imp.extra)) {
      for (const v of values) headers.push([`Impersonate-Extra-${encodeURIComponent(key)}`, v]);
    }
    const tls: FetchTLS = {};
    if (opts.ca) tls.ca = pem(opts.ca);
    if (opts.cert && opts.key) {
      tls.cert = pem(opts.cert);
      tls.key = pem(opts.key);
    }
    if (opts.rejectUnauthorized === false) tls.rejectUnauthorized = false;
    if (opts.servername) tls.serverName = opts.servername;
    const cluster = kc.getCurrentCluster();
    const proxy = proxyFor(cluster?.server ?? "", cluster?.proxyUrl, this.env);
    return proxy ? { headers, tls, proxy } : { headers, tls };
  }
}

function pem(v: unknown): string {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  if (Array.isArray(v)) return v.map(pem).join("\n");
  return String(v);
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (e) {
    // client-node's exec provider rejects with the plugin's bare stderr: say whose credentials failed
    throw new Error(`${what}: ${errorMessage(e).trim() || "failed without a message"}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The proxy for a request to `server`: the cluster's `proxy-url`, else HTTPS_PROXY (HTTP_PROXY for
 * an http:// server) unless NO_PROXY names the host, as client-go does.
 */
export function proxyFor(server: string, proxyUrl: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (proxyUrl) return proxyUrl;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return undefined;
  }
  const fromEnv = url.protocol === "https:" ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!fromEnv) return undefined;
  if (noProxyMatches(url, env.NO_PROXY ?? env.no_proxy ?? "")) return undefined;
  return fromEnv;
}

/** NO_PROXY entries: `*`, a host or IP (optionally with :port), a domain suffix (`.example.com` or `example.com`), an IPv4 CIDR. */
export function noProxyMatches(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    if (entry.includes("/")) {
      if (inCidr(host, entry)) return true;
      continue;
    }
    // a bare IPv6 address has colons but no port; "[::1]:6443" has both
    const bareIPv6 = !entry.startsWith("[") && entry.split(":").length > 2;
    const m = bareIPv6 ? [entry, entry, undefined] : /^\[?(.*?)\]?(?::(\d+))?$/.exec(entry)!;
    const name = m[1]!.replace(/^\*?\./, "");
    if (m[2] && m[2] !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

function ipv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const ip = ipv4(host);
  const net = ipv4(base ?? "");
  const bits = Number(bitsText);
  if (ip === undefined || net === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(ip / size) === Math.floor(net / size);
}
