// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Where the agent finds its cluster: kubeconfig (--kubeconfig, $KUBECONFIG merged first-wins as
 * kubectl does, ~/.kube/config) or the in-cluster ServiceAccount. Parsing and credentials are
 * @kubernetes/client-node's KubeConfig, imported on first use so an agent without a cluster never
 * loads it. Added on top of it: kubeconfig `tokenFile` (re-read), exec commands relative to the
 * kubeconfig and KUBERNETES_EXEC_INFO, the impersonation fields it skips, and errors naming the file
 * and context. The gcp/azure auth-provider plugins (removed from kubectl) are rejected.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Cluster, newClusters, newContexts, newUsers, type User } from "@kubernetes/client-node/dist/config_types.js";
import { parse as parseYaml } from "yaml";
import { errorMessage } from "../../util/errors.ts";
import { type ImpersonationExtras, KubeAuth, type LoadedConfig } from "./auth.ts";

export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeConfig {
  server: string;
  /** Where this config came from, for log lines (never contains secrets). */
  source: string;
  clusterName: string;
  contextName: string;
  namespace?: string;
  /** Headers, TLS and proxy of every request (client-node's KubeConfig underneath). */
  auth: KubeAuth;
}

export class KubeConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "KubeConfigError";
  }
}

type ClientNode = typeof import("@kubernetes/client-node/dist/config.js");
let clientNode: Promise<ClientNode> | undefined;

/** client-node's config module, imported once, when a cluster configuration is first loaded. */
export function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import("@kubernetes/client-node/dist/config.js");
  return clientNode;
}

type RawRecord = Record<string, unknown>;

function asRecord(v: unknown): RawRecord {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as RawRecord) : {};
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** Kubeconfig files in the order kubectl uses them. */
export function kubeconfigFiles(explicit?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (explicit) return [explicit];
  const fromEnv = env.KUBECONFIG;
  if (fromEnv) return fromEnv.split(path.delimiter).filter((f) => f && fs.existsSync(f));
  const home = path.join(env.HOME ?? os.homedir(), ".kube", "config");
  return fs.existsSync(home) ? [home] : [];
}

/** The raw user records of every file (first wins), with the directory relative paths resolve against. */
type RawUsers = Map<string, { user: RawRecord; dir: string }>;

function mergeFiles(cn: ClientNode, files: string[]): { kc: InstanceType<ClientNode["KubeConfig"]>; rawUsers: RawUsers } {
  const kc = new cn.KubeConfig();
  kc.loadFromOptions({ clusters: [], users: [], contexts: [], currentContext: "" });
  const rawUsers: RawUsers = new Map();
  for (const file of files) {
    const dir = path.dirname(path.resolve(file));
    const one = new cn.KubeConfig();
    let raw: RawRecord;
    try {
      raw = parseKubeconfig(fs.readFileSync(file, "utf8"));
      const opts = { onInvalidEntry: "filter" } as const;
      one.loadFromOptions({
        clusters: newClusters(raw.clusters, opts),
        contexts: newContexts(raw.contexts, opts),
        users: newUsers(raw.users, opts),
        currentContext: raw["current-context"] as string,
      });
      one.makePathsAbsolute(dir);
    } catch (e) {
      throw new KubeConfigError(`kubeconfig ${file}: ${errorMessage(e)}`);
    }
    for (const entry of Array.isArray(raw.users) ? raw.users : []) {
      const name = String(asRecord(entry).name ?? "");
      if (!rawUsers.has(name)) rawUsers.set(name, { user: asRecord(asRecord(entry).user), dir });
    }
    // first file wins for every name, as kubectl merges
    for (const c of one.getClusters()) if (!kc.getCluster(c.name)) kc.addCluster(c);
    for (const u of one.getUsers()) if (!kc.getUser(u.name)) kc.addUser(u);
    for (const x of one.getContexts()) if (!kc.getContextObject(x.name)) kc.addContext(x);
    if (!kc.getCurrentContext() && one.getCurrentContext()) kc.setCurrentContext(one.getCurrentContext());
  }
  return { kc, rawUsers };
}

/**
 * A kubeconfig's top-level mapping. Bun's native YAML parser reads it (a cold JS YAML parser cost ~10 ms
 * of the path to readiness); anything that is not one mapping (several documents, a syntax error) is
 * parsed again by the \`yaml\` package, whose errors name the line.
 */
function parseKubeconfig(text: string): RawRecord {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch {
    doc = undefined;
  }
  if (doc && typeof doc === "object" && !Array.isArray(doc)) return doc as RawRecord;
  return asRecord(parseYaml(text));
}

function resolvePath(dir: string, p: string): string {
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  return path.isAbsolute(p) ? p : path.join(dir, p);
}

/**
 * `as-groups`, `as-uid` and `as-user-extra`. Bun's fetch joins repeated headers into one
 * comma-separated line, which the apiserver reads as a single value, so at most one group and one
 * value per extra key can be sent; more is refused rather than sent wrong.
 */
function impersonationOf(raw: RawRecord, where: string): ImpersonationExtras {
  const extra: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(asRecord(raw["as-user-extra"]))) extra[k] = stringList(v);
  const groups = stringList(raw["as-groups"]);
  if (groups.length > 1 || Object.values(extra).some((v) => v.length > 1)) {
    throw new KubeConfigError(`${where}: impersonation with more than one group (or extra value) per key is not supported`);
  }
  const uid = raw["as-uid"];
  return { groups, uid: typeof uid === "string" && uid ? uid : undefined, extra };
}

/** The user as client-node should see it: tokenFile as its token-file provider, exec with our additions. */
function completeUser(user: User, raw: RawRecord, dir: string, cluster: Cluster): User {
  let out: User = user;
  const tokenFile = raw.tokenFile;
  if (typeof tokenFile === "string" && tokenFile && !user.token && !user.exec && !user.authProvider) {
    out = { ...out, authProvider: { name: "tokenFile", config: { tokenFile: resolvePath(dir, tokenFile) } } };
  }
  if (user.exec && typeof user.exec.command === "string") {
    const exec = user.exec as { command: string; apiVersion?: string; env?: Array<{ name: string; value: string }> | null };
    const command = exec.command.includes(path.sep) && !path.isAbsolute(exec.command) ? path.join(dir, exec.command) : exec.command;
    const ca = cluster.caData ?? (cluster.caFile ? readOptional(cluster.caFile) : undefined);
    const info = {
      apiVersion: exec.apiVersion ?? "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      spec: { interactive: false, cluster: { server: cluster.server, "certificate-authority-data": ca } },
    };
    const env = [...(exec.env ?? []), { name: "KUBERNETES_EXEC_INFO", value: JSON.stringify(info) }];
    out = { ...out, exec: { ...exec, command, env } };
  }
  return out;
}

function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file).toString("base64");
  } catch {
    return undefined; // the request itself reports the unreadable CA file
  }
}

function fromFiles(
  cn: ClientNode,
  files: string[],
  contextOverride: string | undefined,
): { loaded: LoadedConfig; meta: Omit<KubeConfig, "auth"> } {
  const { kc, rawUsers } = mergeFiles(cn, files);
  const where = `kubeconfig ${files.join(path.delimiter)}`;
  const ctxName = contextOverride ?? kc.getCurrentContext();
  if (!ctxName) throw new KubeConfigError(`${where}: no current-context`);
  const ctx = kc.getContextObject(ctxName);
  if (!ctx) throw new KubeConfigError(`${where}: context "${ctxName}" not found`);
  kc.setCurrentContext(ctxName);
  let cluster = kc.getCluster(ctx.cluster);
  if (!cluster) throw new KubeConfigError(`${where}: cluster "${ctx.cluster}" of context "${ctxName}" not found or has no server`);
  if (cluster.server.startsWith("http:")) {
    // plain HTTP (kubectl proxy): client-node refuses it unless TLS verification is off, which has no meaning here
    const clusters = kc.getClusters();
    cluster = clusters[clusters.indexOf(cluster)] = { ...cluster, skipTLSVerify: true };
  }
  const user = kc.getUser(ctx.user);
  const raw = rawUsers.get(ctx.user) ?? { user: {}, dir: "." };
  if (user?.authProvider && user.authProvider.name !== "oidc") {
    throw new KubeConfigError(
      `${where}: user "${ctx.user}" uses the ${user.authProvider.name} auth-provider plugin; use an exec credential plugin instead`,
    );
  }
  if (user) {
    const hasCert = !!(user.certFile || user.certData);
    const hasKey = !!(user.keyFile || user.keyData);
    if (hasCert !== hasKey)
      throw new KubeConfigError(`${where}: user "${ctx.user}" has a client certificate without a key (or the reverse)`);
    const completed = completeUser(user, raw.user, raw.dir, cluster);
    const users = kc.getUsers();
    users[users.indexOf(user)] = completed;
  }
  if (cluster.proxyUrl && /^socks/i.test(cluster.proxyUrl)) {
    throw new KubeConfigError(`${where}: cluster "${ctx.cluster}" proxy-url is a SOCKS proxy; only HTTP(S) proxies are supported`);
  }
  return {
    loaded: { kc, impersonation: impersonationOf(raw.user, `${where} user "${ctx.user}"`) },
    meta: {
      server: cluster.server.replace(/\/+$/, ""),
      source: `${where} context ${ctxName}`,
      clusterName: ctx.cluster,
      contextName: ctxName,
      namespace: ctx.namespace || undefined,
    },
  };
}

export async function loadKubeconfig(files: string[], contextOverride?: string, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  if (files.length === 0) throw new KubeConfigError("no kubeconfig file");
  for (const f of files) if (!fs.existsSync(f)) throw new KubeConfigError(`kubeconfig ${f} does not exist`);
  const cn = await loadClientNode();
  const first = fromFiles(cn, files, contextOverride);
  let reused: LoadedConfig | undefined = first.loaded;
  const load = () => {
    const next = reused ?? fromFiles(cn, files, contextOverride).loaded;
    reused = undefined;
    return next;
  };
  return { ...first.meta, auth: new KubeAuth(load, first.meta.source, env) };
}

/** In-cluster config from the pod's ServiceAccount mount and KUBERNETES_SERVICE_HOST/PORT. */
export async function loadInCluster(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): Promise<KubeConfig> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
  const tokenFile = path.join(saDir, "token");
  if (!fs.existsSync(tokenFile)) throw new KubeConfigError(`not in a cluster: ${tokenFile} missing`);
  const caFile = path.join(saDir, "ca.crt");
  const nsFile = path.join(saDir, "namespace");
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const source = `in-cluster service account ${saDir}`;
  const cn = await loadClientNode();
  const load = (): LoadedConfig => {
    const kc = new cn.KubeConfig();
    // client-node's token-file provider re-reads the file every minute: kubelet rotates bound tokens
    kc.loadFromClusterAndUser(
      { name: "in-cluster", server, caFile: fs.existsSync(caFile) ? caFile : undefined, skipTLSVerify: false },
      { name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile } } },
    );
    return { kc, impersonation: { groups: [], extra: {} } };
  };
  return {
    server,
    source,
    clusterName: "in-cluster",
    contextName: "in-cluster",
    namespace: fs.existsSync(nsFile) ? fs.readFileSync(nsFile, "utf8").trim() : undefined,
    auth: new KubeAuth(load, source, env),
  };
}

export interface DetectedConfig {
  config?: KubeConfig;
  /** Why there is no cluster view (set when config is undefined). */
  reason?: string;
}

/**
 * Decides whether a cluster is reachable by configuration: explicit --kubeconfig, then in-cluster,
 * then $KUBECONFIG / ~/.kube/config (controller-runtime's order). Never throws. client-node is
 * imported only once a configuration was found.
 */
export async function detectKubeConfig(
  opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv; saDir?: string } = {},
): Promise<DetectedConfig> {
  const env = opts.env ?? process.env;
  try {
    if (opts.kubeconfig) return { config: await loadKubeconfig([opts.kubeconfig], opts.context, env) };
    if (env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(opts.saDir ?? SA_DIR, "token"))) {
      return { config: await loadInCluster(env, opts.saDir) };
    }
    const files = kubeconfigFiles(undefined, env);
    if (files.length === 0) {
      return { reason: "no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster" };
    }
    return { config: await loadKubeconfig(files, opts.context, env) };
  } catch (err) {
    return { reason: errorMessage(err) };
  }
}
