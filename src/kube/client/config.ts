// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Where the agent finds its cluster: kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) or the
 * in-cluster ServiceAccount. Supports CA (file/data), insecure-skip-tls-verify, tls-server-name,
 * bearer token (inline or tokenFile), client certificate (file/data), basic auth and exec
 * credential plugins (client.authentication.k8s.io v1/v1beta1). Auth-provider plugins (the
 * removed gcp/azure ones) are rejected with a clear message.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";

export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ExecConfig {
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  apiVersion: string;
  /** Directory relative commands resolve against (the kubeconfig's). */
  baseDir: string;
}

export interface KubeConfig {
  server: string;
  /** Where this config came from, for log lines (never contains secrets). */
  source: string;
  clusterName: string;
  contextName: string;
  namespace?: string;
  ca?: string;
  insecureSkipTLSVerify: boolean;
  tlsServerName?: string;
  cert?: string;
  key?: string;
  token?: string;
  /** Re-read on use (bound SA tokens rotate). */
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
}

export class KubeConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "KubeConfigError";
  }
}

interface Named<T> {
  name: string;
  value: T;
}

type RawCluster = Record<string, unknown>;
type RawUser = Record<string, unknown>;
type RawContext = Record<string, unknown>;

interface RawConfig {
  clusters: Array<Named<RawCluster>>;
  users: Array<Named<RawUser>>;
  contexts: Array<Named<RawContext>>;
  currentContext?: string;
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function named<T>(list: unknown, key: string, dir: string): Array<Named<T>> {
  if (!Array.isArray(list)) return [];
  return list.map((e) => {
    const r = asRecord(e);
    return { name: String(r.name ?? ""), value: { ...asRecord(r[key]), __dir: dir } as T };
  });
}

function loadRaw(files: string[]): RawConfig {
  const merged: RawConfig = { clusters: [], users: [], contexts: [] };
  const seen = { clusters: new Set<string>(), users: new Set<string>(), contexts: new Set<string>() };
  for (const file of files) {
    let doc: Record<string, unknown>;
    try {
      doc = asRecord(parseYaml(fs.readFileSync(file, "utf8")));
    } catch (err) {
      throw new KubeConfigError(`kubeconfig ${file}: ${(err as Error).message}`);
    }
    const dir = path.dirname(path.resolve(file));
    for (const [k, inner] of [
      ["clusters", "cluster"],
      ["users", "user"],
      ["contexts", "context"],
    ] as const) {
      for (const n of named<Record<string, unknown>>(doc[k], inner, dir)) {
        if (seen[k].has(n.name)) continue; // first file wins, as kubectl
        seen[k].add(n.name);
        (merged[k] as Array<Named<Record<string, unknown>>>).push(n);
      }
    }
    if (!merged.currentContext && typeof doc["current-context"] === "string" && doc["current-context"]) {
      merged.currentContext = doc["current-context"] as string;
    }
  }
  return merged;
}

function resolvePath(dir: string, p: string): string {
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  return path.isAbsolute(p) ? p : path.join(dir, p);
}

function fileOrData(rec: Record<string, unknown>, fileKey: string, dataKey: string): string | undefined {
  const dir = String(rec.__dir ?? ".");
  const data = rec[dataKey];
  if (typeof data === "string" && data) return Buffer.from(data, "base64").toString("utf8");
  const file = rec[fileKey];
  if (typeof file === "string" && file) {
    const p = resolvePath(dir, file);
    try {
      return fs.readFileSync(p, "utf8");
    } catch (err) {
      throw new KubeConfigError(`${fileKey} ${p}: ${(err as Error).message}`);
    }
  }
  return undefined;
}

/** Kubeconfig files in the order kubectl uses them. */
export function kubeconfigFiles(explicit?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (explicit) return [explicit];
  const fromEnv = env.KUBECONFIG;
  if (fromEnv) return fromEnv.split(path.delimiter).filter((f) => f && fs.existsSync(f));
  const home = path.join(env.HOME ?? os.homedir(), ".kube", "config");
  return fs.existsSync(home) ? [home] : [];
}

export function loadKubeconfig(files: string[], contextOverride?: string): KubeConfig {
  if (files.length === 0) throw new KubeConfigError("no kubeconfig file");
  for (const f of files) if (!fs.existsSync(f)) throw new KubeConfigError(`kubeconfig ${f} does not exist`);
  const raw = loadRaw(files);
  const ctxName = contextOverride ?? raw.currentContext;
  if (!ctxName) throw new KubeConfigError(`kubeconfig ${files.join(":")}: no current-context`);
  const ctx = raw.contexts.find((c) => c.name === ctxName)?.value;
  if (!ctx) throw new KubeConfigError(`kubeconfig: context "${ctxName}" not found`);
  const clusterName = String(ctx.cluster ?? "");
  const cluster = raw.clusters.find((c) => c.name === clusterName)?.value;
  if (!cluster) throw new KubeConfigError(`kubeconfig: cluster "${clusterName}" of context "${ctxName}" not found`);
  const userName = String(ctx.user ?? "");
  const user = raw.users.find((u) => u.name === userName)?.value ?? {};
  const server = String(cluster.server ?? "");
  if (!server) throw new KubeConfigError(`kubeconfig: cluster "${clusterName}" has no server`);
  if (user["auth-provider"]) {
    throw new KubeConfigError(`kubeconfig: user "${userName}" uses an auth-provider plugin; use an exec credential plugin instead`);
  }
  const cfg: KubeConfig = {
    server: server.replace(/\/+$/, ""),
    source: `kubeconfig ${files.join(path.delimiter)} context ${ctxName}`,
    clusterName,
    contextName: ctxName,
    namespace: typeof ctx.namespace === "string" && ctx.namespace ? ctx.namespace : undefined,
    ca: fileOrData(cluster, "certificate-authority", "certificate-authority-data"),
    insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: typeof cluster["tls-server-name"] === "string" ? (cluster["tls-server-name"] as string) : undefined,
    cert: fileOrData(user, "client-certificate", "client-certificate-data"),
    key: fileOrData(user, "client-key", "client-key-data"),
    token: typeof user.token === "string" && user.token ? (user.token as string) : undefined,
    tokenFile: typeof user.tokenFile === "string" && user.tokenFile ? resolvePath(String(user.__dir), user.tokenFile as string) : undefined,
    username: typeof user.username === "string" ? (user.username as string) : undefined,
    password: typeof user.password === "string" ? (user.password as string) : undefined,
  };
  const exec = asRecord(user.exec);
  if (typeof exec.command === "string" && exec.command) {
    cfg.exec = {
      command: exec.command,
      args: Array.isArray(exec.args) ? exec.args.map(String) : [],
      env: Array.isArray(exec.env) ? exec.env.map((e) => ({ name: String(asRecord(e).name), value: String(asRecord(e).value ?? "") })) : [],
      apiVersion: String(exec.apiVersion ?? "client.authentication.k8s.io/v1"),
      baseDir: String(user.__dir ?? "."),
    };
  }
  if (!!cfg.cert !== !!cfg.key)
    throw new KubeConfigError(`kubeconfig: user "${userName}" has a client certificate without a key (or the reverse)`);
  return cfg;
}

/** In-cluster config from the pod's ServiceAccount mount and KUBERNETES_SERVICE_HOST/PORT. */
export function loadInCluster(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
  const tokenFile = path.join(saDir, "token");
  if (!fs.existsSync(tokenFile)) throw new KubeConfigError(`not in a cluster: ${tokenFile} missing`);
  const caFile = path.join(saDir, "ca.crt");
  const nsFile = path.join(saDir, "namespace");
  const h = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${h}:${port}`,
    source: `in-cluster service account ${saDir}`,
    clusterName: "in-cluster",
    contextName: "in-cluster",
    namespace: fs.existsSync(nsFile) ? fs.readFileSync(nsFile, "utf8").trim() : undefined,
    ca: fs.existsSync(caFile) ? fs.readFileSync(caFile, "utf8") : undefined,
    insecureSkipTLSVerify: false,
    tokenFile,
  };
}

export interface DetectedConfig {
  config?: KubeConfig;
  /** Why there is no cluster view (set when config is undefined). */
  reason?: string;
}

/**
 * Decides whether a cluster is reachable by configuration: explicit --kubeconfig, then in-cluster,
 * then $KUBECONFIG / ~/.kube/config (controller-runtime's order). Never throws.
 */
export function detectKubeConfig(
  opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv; saDir?: string } = {},
): DetectedConfig {
  const env = opts.env ?? process.env;
  try {
    if (opts.kubeconfig) return { config: loadKubeconfig([opts.kubeconfig], opts.context) };
    if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(opts.saDir ?? SA_DIR, "token"))) {
      return { config: loadInCluster(env, opts.saDir) };
    }
    const files = kubeconfigFiles(undefined, env);
    if (files.length === 0) {
      return { reason: "no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster" };
    }
    return { config: loadKubeconfig(files, opts.context) };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}
