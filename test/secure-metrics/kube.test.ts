// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// --metrics-secure against a real kube-apiserver (RBAC authorizer, ServiceAccount token issuance):
// the compiled agent, running as the ServiceAccount the deploy/ RBAC binds (the ClusterRoles come from
// deploy/kubernetes/components/secure-metrics), answers 200 to a ServiceAccount token bound to the
// metrics-reader role, 403 to one without it, 401 without a token or with a garbage one; reviews are
// cached (a burst of scrapes costs one TokenReview); --metrics-cert-dir serves the given certificate and
// takes a replaced one without a restart; a bad certificate or key exits 2 naming the file.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO } from "../deploy/manifests.ts";
import { type AgentProcess, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { type KubeTestEnv, startKubeTestEnv } from "../helpers/kube-testenv.ts";
import { httpsGet, makeCa, makeSigned, peerCertificate } from "./pki.ts";

const COMPONENT = path.join(REPO, "deploy/kubernetes/components/secure-metrics");
const NS = "monitoring";

let env: KubeTestEnv;
let dir: string;
let allowedToken: string;
let deniedToken: string;

async function ok(res: Promise<Response>, what: string): Promise<Record<string, any>> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${await r.text()}`);
  return (await r.json()) as Record<string, any>;
}

async function saToken(name: string): Promise<string> {
  const tr = await ok(
    env.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts/${name}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    }),
    `token for ${name}`,
  );
  return tr.status.token as string;
}

/** The counter's value in a /metrics text (0 when absent). */
function counter(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

function agentArgs(extra: string[]): string[] {
  return [
    "--metrics-secure",
    `--kubeconfig=${env.agentKubeconfigPath}`,
    "--enable-kubernetes-controller=false",
    "--leader-elect=false",
    "--intake-address=",
    "--data-directory=",
    ...extra,
  ];
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-secure-metrics-"));
  env = await startKubeTestEnv();
  await ok(env.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }), "namespace");
  for (const sa of ["scraper", "stranger"])
    await ok(
      env.request("POST", `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } }),
      sa,
    );
  // The shipped roles, as they are: the agent's review rights and the scraper's read right.
  for (const file of ["metrics-auth-role.yaml", "metrics-reader-role.yaml"]) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(COMPONENT, file), "utf8"))) {
      const o = doc.toJSON() as Record<string, any>;
      const plural = o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings";
      await ok(env.request("POST", `/apis/rbac.authorization.k8s.io/v1/${plural}`, o), `${o.kind}/${o.metadata.name}`);
    }
  }
  await ok(
    env.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "scraper-reads-antimetal-metrics" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "antimetal-agent-metrics-reader" },
      subjects: [{ kind: "ServiceAccount", name: "scraper", namespace: NS }],
    }),
    "binding",
  );
  allowedToken = await saToken("scraper");
  deniedToken = await saToken("stranger");
}, 120_000);

afterAll(async () => {
  await env?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("--metrics-secure with a self-signed certificate", () => {
  let agent: AgentProcess;
  let url: string;
  beforeAll(async () => {
    agent = await startAgent(agentArgs([]));
    url = `https://127.0.0.1:${agent.ports.metrics}/metrics`;
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
  });

  test("a ServiceAccount token bound to antimetal-agent-metrics-reader gets 200 and the metrics", async () => {
    const r = await httpsGet(url, { headers: { authorization: `Bearer ${allowedToken}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    expect(r.body).toContain("antimetal_build_info{");
  });

  test("a token without the role gets 403 naming the user", async () => {
    const r = await httpsGet(url, { headers: { authorization: `Bearer ${deniedToken}` } });
    expect(r.status).toBe(403);
    expect(r.body.trim()).toBe(`Authorization denied for user system:serviceaccount:${NS}:stranger`);
  });

  test("no token, a garbage token and a non-bearer header get 401", async () => {
    for (const headers of [{}, { authorization: "Bearer not-a-real-token" }, { authorization: `Basic ${btoa("a:b")}` }] as Record<
      string,
      string
    >[]) {
      const r = await httpsGet(url, { headers });
      expect(`${JSON.stringify(headers)} ${r.status} ${r.body.trim()}`).toBe(`${JSON.stringify(headers)} 401 Unauthorized`);
    }
  });

  test("the landing page is behind the same check (get on /)", async () => {
    expect((await httpsGet(url.replace("/metrics", "/"), { headers: { authorization: `Bearer ${allowedToken}` } })).status).toBe(403);
    expect((await httpsGet(url.replace("/metrics", "/"))).status).toBe(401);
  });

  test("TLS only: the certificate is self-signed for localhost and 127.0.0.1; plain HTTP is refused", async () => {
    const cert = await peerCertificate(agent.ports.metrics!);
    expect(cert.subject.CN).toBe("antimetal-agent");
    expect(cert.issuer.CN).toBe("antimetal-agent");
    expect(cert.subjectaltname).toContain("IP Address:127.0.0.1");
    expect(cert.subjectaltname).toContain("DNS:localhost");
    const plain = await fetch(`http://127.0.0.1:${agent.ports.metrics}/metrics`).then(
      (r) => r.status,
      () => 0,
    );
    expect(plain === 0 || plain >= 400).toBe(true);
    // Probes stay plain HTTP for the kubelet.
    expect((await fetch(`http://127.0.0.1:${agent.ports.probes}/livez`)).status).toBe(200);
  });

  test("a burst of scrapes with a new token costs one TokenReview and one SubjectAccessReview (cached, shared in flight)", async () => {
    const read = async () => {
      await Bun.sleep(1100); // self metrics are re-rendered at most once a second
      return (await httpsGet(url, { headers: { authorization: `Bearer ${allowedToken}` } })).body;
    };
    const before = await read();
    const fresh = await saToken("scraper");
    const burst = await Promise.all(Array.from({ length: 25 }, () => httpsGet(url, { headers: { authorization: `Bearer ${fresh}` } })));
    expect(burst.map((r) => r.status)).toEqual(Array(25).fill(200));
    const after = await read();
    const delta = (s: string) => counter(after, s) - counter(before, s);
    expect(delta('antimetal_metrics_auth_reviews_total{review="tokenreview",result="ok"}')).toBe(1);
    // One, not zero: the user of a bound token carries the token's credential id in its extra fields,
    // so each token is its own SubjectAccessReview (as in Kubernetes' own delegating authorizer).
    expect(delta('antimetal_metrics_auth_reviews_total{review="subjectaccessreview",result="ok"}')).toBe(1);
    expect(delta('antimetal_metrics_auth_cache_hits_total{review="tokenreview"}')).toBeGreaterThanOrEqual(1);
    expect(delta('antimetal_metrics_auth_decisions_total{decision="allowed"}')).toBe(26);
    expect(counter(after, 'antimetal_queue_capacity{queue="metrics_auth_tokens"}')).toBe(1024);
  });
});

describe("--metrics-secure with --metrics-cert-dir", () => {
  test("serves the given certificate (custom names) and takes a replaced one without a restart", async () => {
    const certDir = path.join(dir, "certs");
    fs.mkdirSync(certDir);
    const ca1 = makeCa(dir, "ca-one");
    const ca2 = makeCa(dir, "ca-two");
    const first = makeSigned(dir, ca1, "serving-one", "server");
    const second = makeSigned(dir, ca2, "serving-two", "server");
    fs.copyFileSync(first.cert, path.join(certDir, "serving.pem"));
    fs.copyFileSync(first.key, path.join(certDir, "serving-key.pem"));
    const agent = await startAgent(
      agentArgs([`--metrics-cert-dir=${certDir}`, "--metrics-cert-name=serving.pem", "--metrics-key-name=serving-key.pem"]),
    );
    try {
      const url = `https://127.0.0.1:${agent.ports.metrics}/metrics`;
      const auth = { authorization: `Bearer ${allowedToken}` };
      const r1 = await httpsGet(url, { ca: fs.readFileSync(ca1.cert, "utf8"), headers: auth });
      expect(r1.status).toBe(200);
      expect(r1.body).toContain("antimetal_build_info{");
      // As a Secret volume update does: new files swapped in by rename.
      for (const [src, name] of [
        [second.key, "serving-key.pem"],
        [second.cert, "serving.pem"],
      ] as const) {
        fs.copyFileSync(src, path.join(certDir, `.${name}.tmp`));
        fs.renameSync(path.join(certDir, `.${name}.tmp`), path.join(certDir, name));
      }
      const deadline = Date.now() + 25_000;
      while ((await peerCertificate(agent.ports.metrics!)).issuer.CN !== "ca-two") {
        if (Date.now() > deadline) throw new Error("the replaced certificate was not served within 25 s");
        await Bun.sleep(250);
      }
      const r2 = await httpsGet(url, { ca: fs.readFileSync(ca2.cert, "utf8"), headers: auth });
      expect(r2.status).toBe(200);
      expect((await httpsGet(url, { ca: fs.readFileSync(ca1.cert, "utf8"), headers: auth })).status).toBe(0);
      await agent.waitForLog((l) => l.msg === "serving certificate reloaded");
    } finally {
      await agent.stop();
    }
  }, 60_000);

  test("a bad certificate, a key of another certificate or a missing file exits 2 naming the file and the option", async () => {
    const ca = makeCa(dir, "ca-bad");
    const a = makeSigned(dir, ca, "pair-a", "server");
    const b = makeSigned(dir, ca, "pair-b", "server");
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        "garbage certificate",
        { "tls.crt": "not a certificate\n", "tls.key": fs.readFileSync(a.key, "utf8") },
        /--metrics-cert-name: certificate \S+\/tls\.crt: no PEM certificate/,
      ],
      [
        "corrupt certificate",
        { "tls.crt": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "tls.key": fs.readFileSync(a.key, "utf8") },
        /--metrics-cert-name: certificate \S+\/tls\.crt: certificate 1 does not parse/,
      ],
      [
        "garbage key",
        { "tls.crt": fs.readFileSync(a.cert, "utf8"), "tls.key": "nope\n" },
        /--metrics-key-name: key \S+\/tls\.key: not a PEM private key/,
      ],
      [
        "another certificate's key",
        { "tls.crt": fs.readFileSync(a.cert, "utf8"), "tls.key": fs.readFileSync(b.key, "utf8") },
        /key \S+\/tls\.key does not belong to the certificate \S+\/tls\.crt/,
      ],
      ["missing key", { "tls.crt": fs.readFileSync(a.cert, "utf8") }, /--metrics-key-name: key \S+\/tls\.key: no such file/],
    ];
    for (const [name, files, message] of cases) {
      const certDir = fs.mkdtempSync(path.join(dir, "bad-"));
      for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(certDir, f), text);
      const p = Bun.spawn(
        [
          requireBinary(),
          "run",
          ...agentArgs([`--metrics-cert-dir=${certDir}`, "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0"]),
        ],
        {
          stdout: "pipe",
          stderr: "pipe",
        },
      );
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect(`${name}: exit ${code}`).toBe(`${name}: exit 2`);
      expect(stderr).toMatch(message);
      expect(stderr).toContain(certDir);
    }
  }, 60_000);
});
