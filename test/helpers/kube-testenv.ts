// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * envtest-style test environment: a real etcd + kube-apiserver on loopback, built by
 * scripts/kube-testenv/build.sh (cached under /var/cache/antimetal-dev/kube). Certificates come from
 * openssl: a CA, the serving certificate, a client certificate (CN=agent-cert), and the
 * service-account signing key pair. Static tokens: an admin (system:masters) and an agent that
 * authenticates as the ServiceAccount antimetal-system/agent, so RBAC rules that name the
 * ServiceAccount apply to it.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface KubeTestEnv {
  url: string;
  /** etcd client URL (http, loopback). */
  etcdUrl: string;
  dir: string;
  caFile: string;
  /** CA key, for tests that mint more client certificates. */
  caKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  adminToken: string;
  agentToken: string;
  /** ServiceAccount the agent token authenticates as. */
  agentNamespace: string;
  agentServiceAccount: string;
  /** Kubeconfig with the admin token. */
  kubeconfigPath: string;
  /** Kubeconfig with the agent token (RBAC-limited). */
  agentKubeconfigPath: string;
  /** Kubeconfig with the client certificate (CN=agent-cert, O=system:masters). */
  certKubeconfigPath: string;
  /** Authenticated request as admin; body is JSON unless a string. */
  request(method: string, p: string, body?: unknown, contentType?: string): Promise<Response>;
  stop(): Promise<void>;
  /** Stops and starts kube-apiserver (etcd keeps running); same port and data. */
  restart(): Promise<void>;
  /** Stops the apiserver only. */
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
}

const CACHE_ROOT = process.env.ANTIMETAL_KUBE_CACHE ?? "/var/cache/antimetal-dev/kube";

export function testenvBinDir(): string {
  const fromEnv = process.env.KUBE_TESTENV_BIN;
  if (fromEnv) return fromEnv;
  return path.join(CACHE_ROOT, "current", "bin");
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

function makePki(dir: string): void {
  ssl(["genrsa", "-out", "ca.key", "2048"], dir);
  ssl(["req", "-x509", "-new", "-nodes", "-key", "ca.key", "-subj", "/CN=antimetal-test-ca", "-days", "2", "-out", "ca.crt"], dir);
  fs.writeFileSync(
    path.join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  ssl(["genrsa", "-out", "server.key", "2048"], dir);
  ssl(["req", "-new", "-key", "server.key", "-subj", "/CN=kube-apiserver", "-out", "server.csr"], dir);
  ssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ],
    dir,
  );
  fs.writeFileSync(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  ssl(["genrsa", "-out", "client.key", "2048"], dir);
  ssl(["req", "-new", "-key", "client.key", "-subj", "/O=system:masters/CN=agent-cert", "-out", "client.csr"], dir);
  ssl(
    [
      "x509",
      "-req",
      "-in",
      "client.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "client.ext",
      "-out",
      "client.crt",
    ],
    dir,
  );
  ssl(["genrsa", "-out", "sa.key", "2048"], dir);
  ssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

function kubeconfig(url: string, caFile: string, user: Record<string, string>): string {
  const userLines = Object.entries(user)
    .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
    .join("\n");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: testenv",
    "  cluster:",
    `    server: ${url}`,
    `    certificate-authority: ${JSON.stringify(caFile)}`,
    "users:",
    "- name: testenv-user",
    "  user:",
    userLines,
    "contexts:",
    "- name: testenv",
    "  context:",
    "    cluster: testenv",
    "    user: testenv-user",
    "current-context: testenv",
    "",
  ].join("\n");
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  proc?: ChildProcess,
  logFile?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null) {
      const tail = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "";
      throw new Error(`${what} exited with ${proc.exitCode}\n${tail}`);
    }
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const tail = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "";
      throw new Error(`${what} not ready after ${timeoutMs} ms\n${tail}`);
    }
    await Bun.sleep(100);
  }
}

async function killAndWait(p: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM", graceMs = 10000): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise<void>((resolve) => p.once("exit", () => resolve()));
  p.kill(signal);
  const t = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(t);
}

export async function startKubeTestEnv(opts: { binDir?: string; keepDir?: boolean } = {}): Promise<KubeTestEnv> {
  const bin = opts.binDir ?? testenvBinDir();
  const apiserverBin = path.join(bin, "kube-apiserver");
  const etcdBin = path.join(bin, "etcd");
  for (const b of [apiserverBin, etcdBin]) {
    if (!fs.existsSync(b)) throw new Error(`${b} missing: run bash scripts/setup.d/50-kube-testenv.sh`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-testenv-"));
  makePki(dir);
  const adminToken = `admin-${crypto.randomUUID()}`;
  const agentToken = `agent-${crypto.randomUUID()}`;
  const agentNamespace = "antimetal-system";
  const agentServiceAccount = "antimetal-agent";
  fs.writeFileSync(
    path.join(dir, "tokens.csv"),
    `${adminToken},admin,admin-uid,"system:masters"\n` +
      `${agentToken},system:serviceaccount:${agentNamespace}:${agentServiceAccount},agent-uid,"system:serviceaccounts,system:serviceaccounts:${agentNamespace}"\n`,
  );

  const etcdClient = await freePort();
  const etcdPeer = await freePort();
  const apiPort = await freePort();
  const etcdLog = path.join(dir, "etcd.log");
  const apiLog = path.join(dir, "kube-apiserver.log");
  const etcd = spawn(
    etcdBin,
    [
      "--name=testenv",
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=testenv=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    { stdio: ["ignore", fs.openSync(etcdLog, "a"), fs.openSync(etcdLog, "a")] },
  );
  await waitFor("etcd", 30000, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, etcd, etcdLog);

  const url = `https://127.0.0.1:${apiPort}`;
  const caFile = path.join(dir, "ca.crt");
  const ca = fs.readFileSync(caFile, "utf8");
  const args = [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${path.join(dir, "server.crt")}`,
    `--tls-private-key-file=${path.join(dir, "server.key")}`,
    `--client-ca-file=${caFile}`,
    `--token-auth-file=${path.join(dir, "tokens.csv")}`,
    `--service-account-key-file=${path.join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--authorization-mode=RBAC",
    "--allow-privileged=true",
    "--disable-admission-plugins=ServiceAccount",
    "--enable-priority-and-fairness=false",
    "--profiling=false",
    "--endpoint-reconciler-type=none",
    "--v=0",
  ];
  let api: ChildProcess | undefined;
  const request = (method: string, p: string, body?: unknown, contentType?: string): Promise<Response> =>
    fetch(url + p, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body !== undefined ? { "content-type": contentType ?? "application/json" } : {}),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      tls: { ca },
    });
  const startApiserver = async (): Promise<void> => {
    api = spawn(apiserverBin, args, { stdio: ["ignore", fs.openSync(apiLog, "a"), fs.openSync(apiLog, "a")] });
    await waitFor("kube-apiserver", 90000, async () => (await request("GET", "/readyz")).ok, api, apiLog);
  };
  const stopApiserver = async (): Promise<void> => {
    await killAndWait(api);
    api = undefined;
  };
  await startApiserver();

  const kubeconfigPath = path.join(dir, "admin.kubeconfig");
  fs.writeFileSync(kubeconfigPath, kubeconfig(url, caFile, { token: adminToken }));
  const agentKubeconfigPath = path.join(dir, "agent.kubeconfig");
  fs.writeFileSync(agentKubeconfigPath, kubeconfig(url, caFile, { token: agentToken }));
  const certKubeconfigPath = path.join(dir, "cert.kubeconfig");
  fs.writeFileSync(
    certKubeconfigPath,
    kubeconfig(url, caFile, { "client-certificate": path.join(dir, "client.crt"), "client-key": path.join(dir, "client.key") }),
  );

  return {
    url,
    etcdUrl: `http://127.0.0.1:${etcdClient}`,
    dir,
    caFile,
    caKeyFile: path.join(dir, "ca.key"),
    clientCertFile: path.join(dir, "client.crt"),
    clientKeyFile: path.join(dir, "client.key"),
    adminToken,
    agentToken,
    agentNamespace,
    agentServiceAccount,
    kubeconfigPath,
    agentKubeconfigPath,
    certKubeconfigPath,
    request,
    startApiserver,
    stopApiserver,
    restart: async () => {
      await stopApiserver();
      await startApiserver();
    },
    stop: async () => {
      await stopApiserver();
      await killAndWait(etcd);
      if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
