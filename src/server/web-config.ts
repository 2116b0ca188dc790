// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * --web-config-file: node_exporter's web configuration (Prometheus exporter-toolkit format) for the
 * /metrics listener on hosts without Kubernetes: TLS (cert_file/key_file or inline cert/key, min and
 * max version, a client CA with RequireAndVerifyClientCert), HTTP security headers, and basic auth with
 * bcrypt hashes. Relative paths resolve against the file's directory, as exporter-toolkit does. Fields
 * Bun's TLS cannot honour (cipher_suites, curve_preferences, client_allowed_sans, the client auth
 * types that verify only some clients) are refused by name rather than silently weakened.
 */

import * as crypto from "node:crypto";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../config/load.ts";
import { meterBound } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";
import { checkKeyPair, type FileRef, readCaBundle, readKeyPair, readText } from "./tls.ts";

const TLS_VERSIONS = ["TLS10", "TLS11", "TLS12", "TLS13"] as const;
type TlsVersion = (typeof TLS_VERSIONS)[number];

/** The headers exporter-toolkit lets a web config set, with the values it accepts (undefined: any). */
const HEADERS: Record<string, RegExp | undefined> = {
  "strict-transport-security": undefined,
  "x-content-type-options": /^nosniff$/i,
  "x-frame-options": /^(deny|sameorigin)$/i,
  "x-xss-protection": undefined,
  "content-security-policy": undefined,
};

const BCRYPT = /^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$/;

const schema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      client_auth_type: z.string().optional(),
      client_ca_file: z.string().optional(),
      client_ca: z.string().optional(),
      cipher_suites: z.array(z.string()).optional(),
      curve_preferences: z.array(z.string()).optional(),
      min_version: z.enum(TLS_VERSIONS).optional(),
      max_version: z.enum(TLS_VERSIONS).optional(),
      prefer_server_cipher_suites: z.boolean().optional(),
      client_allowed_sans: z.array(z.string()).optional(),
    })
    .optional(),
  http_server_config: z
    .strictObject({
      http2: z.boolean().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  basic_auth_users: z.record(z.string(), z.string()).optional(),
});

export interface WebConfig {
  /** TLS options for Bun.serve, or undefined for plain HTTP (no certificate configured). */
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean; secureOptions?: number };
  /** Files to watch for a certificate change (absent for inline certificates). */
  certFiles?: { cert: FileRef; key: FileRef };
  headers: Record<string, string>;
  /** user → bcrypt hash; empty: no basic auth. */
  users: Map<string, string>;
}

/** OpenSSL options that disable every protocol version outside [min, max]. */
function versionOptions(min: TlsVersion, max: TlsVersion | undefined): number {
  const c = crypto.constants;
  const off = [c.SSL_OP_NO_TLSv1, c.SSL_OP_NO_TLSv1_1, c.SSL_OP_NO_TLSv1_2, c.SSL_OP_NO_TLSv1_3];
  const lo = TLS_VERSIONS.indexOf(min);
  const hi = max ? TLS_VERSIONS.indexOf(max) : 3;
  return off.reduce((acc, bit, i) => (i < lo || i > hi ? acc | bit : acc), 0);
}

/** Reads and checks the file; every problem is a ConfigError naming the file and the field (exit 2). */
export function loadWebConfig(file: string): WebConfig {
  const where = `--web-config-file ${file}`;
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`invalid ${where}: ${field}: ${msg}`);
  };
  const text = readText({ path: file, field: "--web-config-file" }, "file");
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`invalid ${where}: not YAML: ${errorMessage(e)}`);
  }
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === "unrecognized_keys" ? `.${issue.keys.join(", ")}` : "";
    fail(`${issue.path.join(".") || "(top level)"}${keys}`, issue.message);
  }
  const cfg = parsed.data!;
  const dir = path.dirname(path.resolve(file));
  const ref = (field: string, p: string): FileRef => ({ path: path.resolve(dir, p), field: `${where}: tls_server_config.${field}` });
  const out: WebConfig = { headers: {}, users: new Map() };

  const t = cfg.tls_server_config;
  if (t) {
    for (const f of ["cipher_suites", "curve_preferences", "client_allowed_sans"] as const)
      if (t[f]?.length) fail(`tls_server_config.${f}`, "not supported by this agent's TLS stack (remove it)");
    const hasCert = t.cert_file !== undefined || t.cert !== undefined;
    const hasKey = t.key_file !== undefined || t.key !== undefined;
    if (t.cert_file && t.cert) fail("tls_server_config.cert", "cert and cert_file are mutually exclusive");
    if (t.key_file && t.key) fail("tls_server_config.key", "key and key_file are mutually exclusive");
    if (hasCert && !hasKey) fail("tls_server_config.key_file", "missing (cert_file is set)");
    if (hasKey && !hasCert) fail("tls_server_config.cert_file", "missing (key_file is set)");
    const auth = t.client_auth_type ?? "NoClientCert";
    const hasCa = t.client_ca_file !== undefined || t.client_ca !== undefined;
    if (!["NoClientCert", "RequireAndVerifyClientCert"].includes(auth))
      fail(
        "tls_server_config.client_auth_type",
        ["RequestClientCert", "RequireAnyClientCert", "RequireClientCert", "VerifyClientCertIfGiven"].includes(auth)
          ? `${auth} is not supported by this agent (NoClientCert or RequireAndVerifyClientCert)`
          : `invalid value ${JSON.stringify(auth)}`,
      );
    if (hasCa && auth === "NoClientCert") fail("tls_server_config.client_auth_type", "client CA configured without a client auth policy");
    if (auth === "RequireAndVerifyClientCert" && !hasCa)
      fail("tls_server_config.client_ca_file", "missing (RequireAndVerifyClientCert needs it)");
    if (hasCert) {
      const certRef = ref(t.cert ? "cert" : "cert_file", t.cert_file ?? "");
      const keyRef = ref(t.key ? "key" : "key_file", t.key_file ?? "");
      const pair = t.cert_file && t.key_file ? readKeyPair(certRef, keyRef) : inlinePair(t, certRef, keyRef);
      if (t.cert_file && t.key_file) out.certFiles = { cert: certRef, key: keyRef };
      const min = t.min_version ?? "TLS12";
      if (t.max_version && TLS_VERSIONS.indexOf(t.max_version) < TLS_VERSIONS.indexOf(min))
        fail("tls_server_config.max_version", `${t.max_version} is below min_version ${min}`);
      out.tls = { ...pair, secureOptions: versionOptions(min, t.max_version) };
      if (auth === "RequireAndVerifyClientCert") {
        const ca = t.client_ca ?? readCaBundle(ref("client_ca_file", t.client_ca_file!));
        out.tls = { ...out.tls, ca, requestCert: true, rejectUnauthorized: true };
      }
    } else if (hasCa || t.min_version || t.max_version) {
      fail("tls_server_config.cert_file", "missing (TLS settings without a certificate)");
    }
  }

  for (const [name, value] of Object.entries(cfg.http_server_config?.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!(lower in HEADERS)) fail(`http_server_config.headers.${name}`, "this header cannot be configured");
    if (HEADERS[lower] && !HEADERS[lower]!.test(value))
      fail(`http_server_config.headers.${name}`, `invalid value ${JSON.stringify(value)}`);
    out.headers[name] = value;
  }
  for (const [user, hash] of Object.entries(cfg.basic_auth_users ?? {})) {
    if (user === "" || user.includes(":")) fail(`basic_auth_users.${user}`, "a user name must be non-empty and without ':'");
    if (!BCRYPT.test(hash)) fail(`basic_auth_users.${user}`, "not a bcrypt hash ($2y$...: htpasswd -nBC 10 USER)");
    out.users.set(user, hash);
  }
  return out;
}

/** A pair where one side or both are inline PEM in the web config rather than files. */
function inlinePair(t: { cert?: string; key?: string }, certRef: FileRef, keyRef: FileRef): { cert: string; key: string } {
  const certText = t.cert ?? readText(certRef, "certificate");
  const keyText = t.key ?? readText(keyRef, "key");
  return checkKeyPair(
    certText,
    t.cert !== undefined ? { ...certRef, path: "(inline)" } : certRef,
    keyText,
    t.key !== undefined ? { ...keyRef, path: "(inline)" } : keyRef,
  );
}

/** Checks basic auth against the users' bcrypt hashes; successes are cached (bounded) so a scrape does not pay bcrypt each time. */
export class BasicAuth {
  private readonly ok = new Map<string, number>();
  private readonly meter;
  private dummy: Promise<string> | undefined;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    private readonly cap = 256,
    private readonly ttlMs = 60_000,
  ) {
    this.meter = meterBound("web_config_basic_auth_cache", cap);
  }

  /** undefined lets the request through; otherwise a 401 asking for basic auth. */
  async check(req: Request): Promise<Response | undefined> {
    if (this.users.size === 0) return undefined;
    const refuse = () =>
      new Response("Unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": "Basic", "content-type": "text/plain; charset=utf-8" },
      });
    const header = req.headers.get("authorization") ?? "";
    const m = /^basic\s+(\S+)$/i.exec(header.trim());
    if (!m) return refuse();
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return refuse();
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    const key = crypto
      .createHash("sha256")
      .update(`${user}\0${hash ?? ""}\0${password}`)
      .digest("base64");
    const until = this.ok.get(key);
    if (until !== undefined && until > Date.now()) return undefined;
    // An unknown user still costs one bcrypt, so response time does not tell which users exist.
    this.dummy ??= Bun.password.hash("antimetal-unknown-user", { algorithm: "bcrypt", cost: 10 });
    const valid = await Bun.password.verify(password, hash ?? (await this.dummy), "bcrypt").catch(() => false);
    if (!valid || hash === undefined) return refuse();
    this.ok.delete(key);
    while (this.ok.size >= this.cap) {
      this.ok.delete(this.ok.keys().next().value as string);
      this.meter.dropped("evicted");
    }
    this.ok.set(key, Date.now() + this.ttlMs);
    this.meter.depth(this.ok.size);
    return undefined;
  }
}
