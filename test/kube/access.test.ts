// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Access to a real kube-apiserver: every auth mode the client supports (CA + token, client
 * certificate, exec plugin, in-cluster ServiceAccount token, through a proxy, impersonating, a token
 * rotated after a 401), the shipped RBAC (checked against
 * the kinds the code watches, then used by the agent's ServiceAccount for a full sync), and leader
 * election between two agent processes (one leader, failover after kill, release on SIGTERM).
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { create } from "@bufbuild/protobuf";
import { parseAllDocuments } from "yaml";
import { KubeApiError, KubeClient } from "../../src/kube/client/client.ts";
import { detectKubeConfig, loadInCluster, loadKubeconfig } from "../../src/kube/client/config.ts";
import { createKubeController } from "../../src/kube/controller.ts";
import { KINDS } from "../../src/kube/kinds.ts";
import { clusterRoleRules, leaderElectionRules } from "../../src/kube/rbac.ts";
import { createLogger } from "../../src/log/logger.ts";
import { TypeDescriptorSchema } from "../../src/proto/gen/resource/v1/object_pb.ts";
import { openStore } from "../../src/store/index.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { api, kreq } from "./fixtures.ts";

const ROOT = path.resolve(import.meta.dir, "../..");
const RBAC_DIR = path.join(ROOT, "deploy/kubernetes/base/rbac");
const NS = "antimetal-system";
let env: KubeTestEnv;
const logger = createLogger({ level: "error" });

function yamlDocs(file: string): Array<Record<string, any>> {
  return parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON() as Record<string, any>);
}

async function applyRbac(): Promise<void> {
  const docs = [
    ...yamlDocs(path.join(RBAC_DIR, "cluster-role.yaml")),
    ...yamlDocs(path.join(RBAC_DIR, "leader-election-role.yaml")),
    ...yamlDocs(path.join(ROOT, "deploy/kubernetes/base/role-bindings.yaml")),
  ];
  for (const d of docs) {
    const plural = { ClusterRole: "clusterroles", ClusterRoleBinding: "clusterrolebindings", Role: "roles", RoleBinding: "rolebindings" }[
      d.kind as string
    ];
    const namespaced = d.kind === "Role" || d.kind === "RoleBinding";
    await kreq(env, "POST", `/apis/rbac.authorization.k8s.io/v1${namespaced ? `/namespaces/${NS}` : ""}/${plural}`, d);
  }
}

beforeAll(async () => {
  env = await startKubeTestEnv();
  await api.namespace(env, NS);
  await kreq(env, "POST", `/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: env.agentServiceAccount } });
  await applyRbac();
  await api.namespace(env, "app");
  await api.node(env, "n1");
  await api.pod(env, "app", "p1", { node: "n1" });
  await kreq(env, "POST", "/api/v1/namespaces/app/secrets", { metadata: { name: "s" }, stringData: { k: "v" } });
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

describe("client auth against a real apiserver", () => {
  test("kubeconfig with CA file + bearer token", async () => {
    const c = new KubeClient(await loadKubeconfig([env.kubeconfigPath]));
    const v = await c.getJSON<{ major: string }>("/version");
    expect(v.major).toBe("1");
  });

  test("kubeconfig with client certificate and key (mTLS), inline data too", async () => {
    const c = new KubeClient(await loadKubeconfig([env.certKubeconfigPath]));
    const review = await c.sendJSON<{ status: { userInfo: { username: string } } }>(
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "SelfSubjectReview",
      },
    );
    expect(review.status.userInfo.username).toBe("agent-cert");
    // the same with certificate-authority-data / client-*-data
    const b64 = (f: string) => Buffer.from(fs.readFileSync(f)).toString("base64");
    const inline = path.join(env.dir, "inline.kubeconfig");
    fs.writeFileSync(
      inline,
      `apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\nclusters:\n- name: x\n  cluster:\n    server: ${env.url}\n    certificate-authority-data: ${b64(env.caFile)}\nusers:\n- name: x\n  user:\n    client-certificate-data: ${b64(env.clientCertFile)}\n    client-key-data: ${b64(env.clientKeyFile)}\n`,
    );
    const c2 = new KubeClient(await loadKubeconfig([inline]));
    expect((await c2.getJSON<{ items: unknown[] }>("/api/v1/namespaces/app/pods")).items).toHaveLength(1);
  });

  test("a server certificate from another CA is rejected", async () => {
    const other = path.join(env.dir, "other-ca");
    fs.mkdirSync(other);
    Bun.spawnSync(
      ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k", "-subj", "/CN=other", "-days", "1", "-out", "ca.crt"],
      { cwd: other },
    );
    const kc = path.join(other, "kubeconfig");
    fs.writeFileSync(kc, fs.readFileSync(env.kubeconfigPath, "utf8").replace(env.caFile, path.join(other, "ca.crt")));
    await expect(new KubeClient(await loadKubeconfig([kc])).getJSON("/version")).rejects.toThrow();
  });

  test("exec credential plugin (client.authentication.k8s.io/v1), run once and cached", async () => {
    const script = path.join(env.dir, "cred.sh");
    const counter = path.join(env.dir, "cred.count");
    fs.writeFileSync(
      script,
      `#!/bin/sh\necho x >> ${counter}\n[ -n "$KUBERNETES_EXEC_INFO" ] || exit 3\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$TOKEN"'"}}'\n`,
      { mode: 0o755 },
    );
    const kc = path.join(env.dir, "exec.kubeconfig");
    fs.writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\nclusters:\n- name: x\n  cluster: {server: "${env.url}", certificate-authority: "${env.caFile}"}\nusers:\n- name: x\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./cred.sh\n      env: [{name: TOKEN, value: "${env.adminToken}"}]\n`,
    );
    const c = new KubeClient(await loadKubeconfig([kc]));
    expect((await c.getJSON<{ major: string }>("/version")).major).toBe("1");
    await c.getJSON("/api/v1/namespaces");
    expect(fs.readFileSync(counter, "utf8").trim().split("\n")).toHaveLength(1); // cached
  });

  test("in-cluster ServiceAccount token (TokenRequest-minted JWT) and detectKubeConfig", async () => {
    const tr = await kreq(env, "POST", `/api/v1/namespaces/${NS}/serviceaccounts/${env.agentServiceAccount}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    const sa = path.join(env.dir, "sa");
    fs.mkdirSync(sa);
    fs.writeFileSync(path.join(sa, "token"), tr.status.token);
    fs.copyFileSync(env.caFile, path.join(sa, "ca.crt"));
    fs.writeFileSync(path.join(sa, "namespace"), NS);
    const port = new URL(env.url).port;
    const fakeEnv = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port };
    const cfg = await loadInCluster(fakeEnv, sa);
    expect(cfg.namespace).toBe(NS);
    const c = new KubeClient(cfg);
    expect((await c.getJSON<{ items: unknown[] }>("/api/v1/pods")).items.length).toBeGreaterThan(0);
    expect((await detectKubeConfig({ env: fakeEnv, saDir: sa })).config?.source).toContain("in-cluster");
    expect((await detectKubeConfig({ env: { HOME: env.dir }, saDir: path.join(env.dir, "nope") })).reason).toContain("no kubeconfig");
  });
});

/** An HTTP CONNECT proxy on 127.0.0.1 that records the targets it tunnels to. */
async function connectProxy(): Promise<{ url: string; targets: string[]; close: () => void }> {
  const targets: string[] = [];
  const proxy = http.createServer((_req, res) => {
    res.statusCode = 405;
    res.end();
  });
  proxy.on("connect", (req, socket: net.Socket, head) => {
    targets.push(req.url ?? "");
    const [host, port] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const { port } = proxy.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, targets, close: () => proxy.close() };
}

describe("proxies, impersonation and rotated tokens against a real apiserver", () => {
  const apiTarget = () => new URL(env.url).host;

  test("proxy-url in the kubeconfig tunnels CA + token and client-certificate requests", async () => {
    const proxy = await connectProxy();
    try {
      for (const [name, source] of [
        ["token", env.kubeconfigPath],
        ["cert", env.certKubeconfigPath],
      ] as const) {
        const kc = path.join(env.dir, `proxy-${name}.kubeconfig`);
        fs.writeFileSync(kc, fs.readFileSync(source, "utf8").replace(/(\n\s+server: .*\n)/, `$1    proxy-url: ${proxy.url}\n`));
        expect(fs.readFileSync(kc, "utf8")).toContain("proxy-url");
        const c = new KubeClient(await loadKubeconfig([kc]));
        expect((await c.getJSON<{ items: unknown[] }>("/api/v1/namespaces/app/pods")).items).toHaveLength(1);
      }
      expect(proxy.targets.length).toBeGreaterThanOrEqual(2);
      expect(new Set(proxy.targets)).toEqual(new Set([apiTarget()]));
    } finally {
      proxy.close();
    }
  });

  test("HTTPS_PROXY is used, and NO_PROXY bypasses it", async () => {
    const proxy = await connectProxy();
    try {
      const via = new KubeClient(await loadKubeconfig([env.kubeconfigPath], undefined, { HTTPS_PROXY: proxy.url }));
      expect((await via.getJSON<{ major: string }>("/version")).major).toBe("1");
      expect(proxy.targets).toEqual([apiTarget()]);
      const direct = new KubeClient(
        await loadKubeconfig([env.kubeconfigPath], undefined, { HTTPS_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.0/8" }),
      );
      expect((await direct.getJSON<{ major: string }>("/version")).major).toBe("1");
      expect(proxy.targets).toHaveLength(1);
    } finally {
      proxy.close();
    }
  });

  test("impersonation (as, as-groups, as-user-extra): the apiserver sees the impersonated user", async () => {
    const kc = path.join(env.dir, "impersonate.kubeconfig");
    fs.writeFileSync(
      kc,
      fs
        .readFileSync(env.kubeconfigPath, "utf8")
        .replace(/(\n {4}token: .*\n)/, "$1    as: jane\n    as-groups: [team-a]\n    as-user-extra:\n      reason: [audit]\n"),
    );
    expect(fs.readFileSync(kc, "utf8")).toContain("as-groups");
    const c = new KubeClient(await loadKubeconfig([kc]));
    const review = await c.sendJSON<{ status: { userInfo: { username: string; groups: string[]; extra?: Record<string, string[]> } } }>(
      "POST",
      "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    );
    expect(review.status.userInfo.username).toBe("jane");
    expect(review.status.userInfo.groups).toContain("team-a");
    expect(review.status.userInfo.extra?.reason).toEqual(["audit"]);
    // jane has no RBAC: impersonation really changed who asks
    const denied = await c.getJSON("/api/v1/namespaces/app/pods").catch((e) => e);
    expect((denied as KubeApiError).status).toBe(403);
  });

  test("a rotated ServiceAccount token is picked up on the first 401, not a minute later", async () => {
    const sa = path.join(env.dir, "sa-rotate");
    fs.mkdirSync(sa);
    fs.writeFileSync(path.join(sa, "token"), "revoked-token");
    fs.copyFileSync(env.caFile, path.join(sa, "ca.crt"));
    const cfg = await loadInCluster({ KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: new URL(env.url).port }, sa);
    const c = new KubeClient(cfg);
    const err = await c.getJSON("/version").catch((e) => e);
    expect((err as KubeApiError).status).toBe(401);
    fs.writeFileSync(path.join(sa, "token"), env.adminToken);
    expect((await c.getJSON<{ major: string }>("/version")).major).toBe("1");
  });
});

describe("RBAC shipped in deploy/kubernetes/base/rbac", () => {
  test("the ClusterRole and Role are exactly what the code needs (derived from the watched kinds)", () => {
    const [role] = yamlDocs(path.join(RBAC_DIR, "cluster-role.yaml"));
    expect(role!.kind).toBe("ClusterRole");
    expect(role!.metadata.name).toBe("antimetal-agent");
    expect(role!.rules).toEqual(clusterRoleRules());
    const covered = new Set(role!.rules.flatMap((r: any) => r.resources.map((res: string) => `${r.apiGroups[0]}/${res}`)));
    for (const k of KINDS) expect(covered.has(`${k.group}/${k.resource}`)).toBe(true);
    for (const r of role!.rules) {
      expect(r.resources).not.toContain("secrets");
      for (const v of r.verbs) expect(["get", "list", "watch"]).toContain(v);
    }
    const [le] = yamlDocs(path.join(RBAC_DIR, "leader-election-role.yaml"));
    expect(le!.kind).toBe("Role");
    expect(le!.rules).toEqual(leaderElectionRules());
  });

  test("the agent's ServiceAccount with only this RBAC syncs every kind, holds the lease, and cannot read secrets", async () => {
    const store = openStore({ dataDirectory: "", logger });
    const ctl = createKubeController({
      config: await loadKubeconfig([env.agentKubeconfigPath]),
      store,
      logger,
      leaderElect: true,
      namespace: NS,
      provider: "kind",
      providerOptions: { clusterName: "rbac-test" },
    });
    const errors0 = await errorCount();
    await ctl.start();
    await ctl.synced();
    expect(ctl.isLeader()).toBe(true);
    expect(await errorCount()).toBe(errors0);
    const pods = store.listResources([create(TypeDescriptorSchema, { type: "k8s.io.api.core.v1.Pod" })]);
    expect(pods.map((p) => p.metadata?.name)).toEqual(["p1"]);
    const lease = await kreq(env, "GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/4927b366.antimetal.com`);
    expect(lease.spec.holderIdentity).toBe(ctl.identity);
    await ctl.stop(AbortSignal.timeout(10_000));
    const released = await kreq(env, "GET", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/4927b366.antimetal.com`);
    expect(released.spec.holderIdentity ?? "").toBe("");
    store.close();
    const agent = new KubeClient(await loadKubeconfig([env.agentKubeconfigPath]));
    const err = await agent.getJSON("/api/v1/secrets").catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(403);
  }, 60_000);
});

async function errorCount(): Promise<number> {
  const { registry } = await import("../../src/metrics/registry.ts");
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === "antimetal_kube_watch_errors_total");
  return (m?.values ?? []).filter((v) => String(v.labels.reason).startsWith("http_4")).reduce((a, v) => a + Number(v.value), 0);
}

describe("leader election between two agent processes", () => {
  interface Proc {
    id: string;
    p: ReturnType<typeof Bun.spawn>;
    lines: string[];
  }
  const procs: Proc[] = [];
  function spawnAgent(id: string): Proc {
    const p = Bun.spawn([process.execPath, path.join(import.meta.dir, "fixtures/elector.ts"), env.agentKubeconfigPath, NS, id], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const proc: Proc = { id, p, lines: [] };
    void (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of p.stdout as ReadableStream<Uint8Array>) {
        buf += dec.decode(chunk);
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          proc.lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    })();
    procs.push(proc);
    return proc;
  }
  const leaders = () => procs.flatMap((x) => x.lines.filter((l) => l.startsWith("LEADER")));
  async function waitLeader(n: number, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (leaders().length < n) {
      if (Date.now() > deadline) throw new Error(`no leader #${n} within ${timeoutMs} ms: ${JSON.stringify(procs.map((x) => x.lines))}`);
      await Bun.sleep(50);
    }
    return leaders()[n - 1]!;
  }

  afterAll(() => {
    for (const x of procs) x.p.kill("SIGKILL");
  });

  test("exactly one leader; failover within the lease duration after SIGKILL; immediate handover on SIGTERM", async () => {
    // a previous test's lease was released; clear it so this test starts from scratch
    await env.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/4927b366.antimetal.com`);
    const a = spawnAgent("agent-a");
    const b = spawnAgent("agent-b");
    const first = await waitLeader(1, 20_000);
    const [, id] = first.split(" ");
    const leader = id === "agent-a" ? a : b;
    const follower = leader === a ? b : a;
    const isLeaderLine = (l: string) => l.startsWith("LEADER");
    await Bun.sleep(5000); // two more renew rounds: the other process is still a follower
    expect({ follower: follower.id, lines: follower.lines.filter(isLeaderLine) }).toEqual({ follower: follower.id, lines: [] });
    // the leader's identity and term are in its /metrics
    expect(first).toContain(`antimetal_kube_leader_info{lease=\\"${NS}/4927b366.antimetal.com\\",identity=\\"${id}\\",term=\\"0\\"} 1`);
    expect(first).toContain("antimetal_kube_leader 1");
    // only the leader syncs the cluster into its store
    expect(leader.lines.some((l) => l.startsWith("SYNCED"))).toBe(true);
    expect(follower.lines.some((l) => l.startsWith("SYNCED"))).toBe(false);
    const killedAt = Date.now();
    leader.p.kill("SIGKILL");
    const deadline = Date.now() + 25_000;
    while (!follower.lines.some(isLeaderLine)) {
      if (Date.now() > deadline) throw new Error(`no failover: ${JSON.stringify(procs.map((x) => [x.id, x.lines]))}`);
      await Bun.sleep(50);
    }
    const second = follower.lines.find(isLeaderLine)!;
    const failoverMs = Number(second.split(" ")[2]) - killedAt;
    // lease 15 s, judged from when the follower saw the last renew (up to one retry period, 2 s + 20%
    // jitter, after it happened), then up to one more retry period until its next attempt
    expect(failoverMs).toBeLessThan(15_000 + 2 * 2_400 + 1_500);
    expect(second).toContain('term=\\"1\\"');
    // graceful shutdown releases the lease: a new candidate takes over within about one retry period
    const c = spawnAgent("agent-c");
    await Bun.sleep(1000);
    const termAt = Date.now();
    follower.p.kill("SIGTERM");
    const deadline3 = Date.now() + 10_000;
    while (!c.lines.some(isLeaderLine)) {
      if (Date.now() > deadline3) throw new Error(`no handover: ${JSON.stringify(procs.map((x) => [x.id, x.lines]))}`);
      await Bun.sleep(50);
    }
    const third = c.lines.find(isLeaderLine)!;
    expect(Number(third.split(" ")[2]) - termAt).toBeLessThan(5_000);
    expect(follower.lines.some((l) => l.startsWith("RELEASED"))).toBe(true);
  }, 90_000);
});
