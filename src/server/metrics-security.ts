// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * How the /metrics listener is protected, built from the options: plain HTTP (the default),
 * --metrics-secure (HTTPS with a given or self-signed certificate, Kubernetes TokenReview and
 * SubjectAccessReview on every request), or --web-config-file (node_exporter's TLS, client CA and
 * basic auth). src/server/http.ts applies it; certificate files are watched and the listener takes a
 * changed pair without a restart.
 */

import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import { MetricsAuthenticator, type ReviewClient } from "./metrics-auth.ts";
import { CertWatcher, certificateExpiry, type FileRef } from "./tls.ts";
import { BasicAuth, loadWebConfig } from "./web-config.ts";
import { selfSignedCertificate } from "./x509.ts";

/** What Bun.serve takes as `tls`. */
export interface ServeTls {
  cert: string;
  key: string;
  ca?: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  secureOptions?: number;
}

export interface MetricsSecurity {
  /** For the "listening" log line: plain, kubernetes, web-config. */
  mode: string;
  tls?: ServeTls;
  /** undefined lets the request through; otherwise the refusal to send. */
  guard?: (req: Request) => Promise<Response | undefined>;
  /** Headers added to every response (web config http_server_config.headers). */
  headers?: Record<string, string>;
  /** Starts watching the certificate files; `onChange` gets the new TLS options. */
  watch?: (onChange: (tls: ServeTls) => void) => { stop(): void };
}

/** Defaults of controller-runtime's metrics server when --metrics-cert-name / --metrics-key-name are empty. */
export const DEFAULT_CERT_NAME = "tls.crt";
export const DEFAULT_KEY_NAME = "tls.key";

export interface SecureMetricsOptions {
  certDir: string;
  certName: string;
  keyName: string;
  /** The project's Kubernetes client (src/kube/client) for the reviews. */
  client: ReviewClient;
  logger: Logger;
  /** Certificate poll interval (tests shorten it). */
  certPollMs?: number;
}

function watcher(cert: FileRef, key: FileRef, base: Omit<ServeTls, "cert" | "key">, logger: Logger, intervalMs?: number) {
  let onChange: ((tls: ServeTls) => void) | undefined;
  const w = new CertWatcher({ cert, key, logger, intervalMs, onChange: (pair) => onChange?.({ ...base, ...pair }) });
  return {
    tls: { ...base, ...w.pair },
    watch: (cb: (tls: ServeTls) => void) => {
      onChange = cb;
      w.start();
      return { stop: () => w.stop() };
    },
  };
}

/** --metrics-secure: HTTPS, certificate from --metrics-cert-dir or self-signed, Kubernetes authn/authz. */
export function secureMetrics(opts: SecureMetricsOptions): MetricsSecurity {
  const log = opts.logger.child({ component: "http" });
  const auth = new MetricsAuthenticator({ client: opts.client, logger: opts.logger });
  const guard = (req: Request) => auth.check(req);
  if (opts.certDir === "") {
    const hosts = [...new Set(["localhost", "127.0.0.1", "::1", os.hostname()])];
    const pair = selfSignedCertificate({ commonName: "antimetal-agent", hosts, validDays: 365 });
    log.info(
      { hosts, notAfter: certificateExpiry(pair.cert) },
      "--metrics-cert-dir not set: serving /metrics with a self-signed certificate",
    );
    return { mode: "kubernetes", tls: pair, guard };
  }
  const cert = { path: path.join(opts.certDir, opts.certName || DEFAULT_CERT_NAME), field: "--metrics-cert-dir/--metrics-cert-name" };
  const key = { path: path.join(opts.certDir, opts.keyName || DEFAULT_KEY_NAME), field: "--metrics-cert-dir/--metrics-key-name" };
  const w = watcher(cert, key, {}, log, opts.certPollMs);
  log.info({ cert: cert.path, notAfter: certificateExpiry(w.tls.cert) }, "serving /metrics with the certificate from --metrics-cert-dir");
  return { mode: "kubernetes", tls: w.tls, guard, watch: w.watch };
}

/** --web-config-file: exporter-toolkit's TLS, client certificates, headers and basic auth. */
export function webConfigMetrics(file: string, logger: Logger, certPollMs?: number): MetricsSecurity {
  const cfg = loadWebConfig(file);
  const basic = new BasicAuth(cfg.users);
  const out: MetricsSecurity = {
    mode: "web-config",
    headers: cfg.headers,
    guard: cfg.users.size > 0 ? (req) => basic.check(req) : undefined,
  };
  if (!cfg.tls) return out;
  if (!cfg.certFiles) return { ...out, tls: cfg.tls };
  const { cert, key, ...base } = cfg.tls;
  void cert;
  void key;
  const w = watcher(cfg.certFiles.cert, cfg.certFiles.key, base, logger.child({ component: "http" }), certPollMs);
  return { ...out, tls: w.tls, watch: w.watch };
}

/** Refuses option combinations that cannot both apply (exit 2). */
export function assertOneMetricsMode(secure: boolean, webConfigFile: string): void {
  if (secure && webConfigFile !== "")
    throw new ConfigError(
      "invalid --web-config-file: cannot be combined with --metrics-secure (choose Kubernetes or web-config protection)",
    );
}
