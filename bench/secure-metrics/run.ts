// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What protecting /metrics costs a scrape: the compiled agent's /metrics scraped sequentially (one
// connection per scrape, as the first scrape of a target) over plain HTTP (the anchor), over HTTPS with
// --metrics-secure and a cached token, over HTTPS with only TLS (the cost of the handshake alone), over HTTPS with --web-config-file basic auth (cached bcrypt), and
// the first scrape of a token the agent has not seen (TokenReview + SubjectAccessReview round trips to
// the real test kube-apiserver). Prints one JSON object: medians in ms, ratios to the anchor, and the
// apiserver reviews the whole run cost. Usage: bash bench/run.sh secure-metrics [scrapes=200]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startAgent } from "../../test/helpers/agent-process.ts";
import { startKubeTestEnv } from "../../test/helpers/kube-testenv.ts";
import { makeCa, makeSigned } from "../../test/secure-metrics/pki.ts";

const SCRAPES = Number(process.argv[2] ?? 200);
const STANDALONE = ["--enable-kubernetes-controller=false", "--leader-elect=false", "--intake-address=", "--data-directory="];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 1000) / 1000;

async function timeScrapes(url: string, headers: Record<string, string>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await fetch(url, { headers: { ...headers, connection: "close" }, keepalive: false, tls: { rejectUnauthorized: false } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    out.push(performance.now() - t);
  }
  return out;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-bench-secure-"));
const env = await startKubeTestEnv();
try {
  const post = async (p: string, body: unknown) => {
    const r = await env.request("POST", p, body);
    if (r.status >= 300) throw new Error(`${p}: ${r.status} ${await r.text()}`);
    return (await r.json()) as Record<string, any>;
  };
  await post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "monitoring" } });
  await post("/api/v1/namespaces/monitoring/serviceaccounts", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "scraper" } });
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  const rule = (name: string, rules: unknown[]) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name },
    rules,
  });
  const bind = (name: string, role: string, ns: string, sa: string) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: ns }],
  });
  await post(
    `${rbac}/clusterroles`,
    rule("reviews", [
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
    ]),
  );
  await post(`${rbac}/clusterroles`, rule("reader", [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]));
  await post(`${rbac}/clusterrolebindings`, bind("agent-reviews", "reviews", env.agentNamespace, env.agentServiceAccount));
  await post(`${rbac}/clusterrolebindings`, bind("scraper-reader", "reader", "monitoring", "scraper"));
  const token = async () =>
    (
      await post("/api/v1/namespaces/monitoring/serviceaccounts/scraper/token", {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {},
      })
    ).status.token as string;

  const ca = makeCa(dir, "bench-ca");
  const serving = makeSigned(dir, ca, "bench-serving", "server");
  const hash = await Bun.password.hash("pw", { algorithm: "bcrypt", cost: 10 });
  const webConfig = path.join(dir, "web.yml");
  fs.writeFileSync(
    webConfig,
    `tls_server_config:\n  cert_file: ${serving.cert}\n  key_file: ${serving.key}\nbasic_auth_users:\n  bench: "${hash}"\n`,
  );

  const tlsOnly = path.join(dir, "tls.yml");
  fs.writeFileSync(tlsOnly, `tls_server_config:\n  cert_file: ${serving.cert}\n  key_file: ${serving.key}\n`);

  const plain = await startAgent(STANDALONE);
  const https = await startAgent([...STANDALONE, `--web-config-file=${tlsOnly}`]);
  const secure = await startAgent([...STANDALONE, "--metrics-secure", `--kubeconfig=${env.agentKubeconfigPath}`]);
  const web = await startAgent([...STANDALONE, `--web-config-file=${webConfig}`]);
  try {
    const bearer = { authorization: `Bearer ${await token()}` };
    const basic = { authorization: `Basic ${btoa("bench:pw")}` };
    const urls = {
      plain: `http://127.0.0.1:${plain.ports.metrics}/metrics`,
      https: `https://127.0.0.1:${https.ports.metrics}/metrics`,
      secure: `https://127.0.0.1:${secure.ports.metrics}/metrics`,
      web: `https://127.0.0.1:${web.ports.metrics}/metrics`,
    };
    // Warm: first scrapes (and the first review and bcrypt) are not part of the steady figures.
    await timeScrapes(urls.plain, {}, 5);
    await timeScrapes(urls.https, {}, 5);
    await timeScrapes(urls.secure, bearer, 5);
    await timeScrapes(urls.web, basic, 5);
    const rounds: Record<string, number[]> = { plain: [], https: [], secure: [], web: [] };
    // Interleaved rounds so machine load hits the three alike.
    for (let r = 0; r < 5; r++) {
      rounds.plain!.push(median(await timeScrapes(urls.plain, {}, SCRAPES / 5)));
      rounds.https!.push(median(await timeScrapes(urls.https, {}, SCRAPES / 5)));
      rounds.secure!.push(median(await timeScrapes(urls.secure, bearer, SCRAPES / 5)));
      rounds.web!.push(median(await timeScrapes(urls.web, basic, SCRAPES / 5)));
    }
    const firstOfToken: number[] = [];
    for (let i = 0; i < 10; i++) firstOfToken.push(...(await timeScrapes(urls.secure, { authorization: `Bearer ${await token()}` }, 1)));
    await Bun.sleep(1100);
    const text = await (await fetch(urls.secure, { headers: bearer, tls: { rejectUnauthorized: false } })).text();
    const count = (s: string) => Number(/ (\d+)$/.exec(text.split("\n").find((l) => l.startsWith(s)) ?? " 0")![1]);
    const anchor = median(rounds.plain!);
    console.log(
      JSON.stringify(
        {
          scrapes_per_mode: SCRAPES,
          load_average: os.loadavg().map(round),
          anchor_plain_http_ms: round(anchor),
          https_no_auth_ms: round(median(rounds.https!)),
          https_ratio: round(median(rounds.https!) / anchor),
          secure_cached_token_ms: round(median(rounds.secure!)),
          secure_ratio: round(median(rounds.secure!) / anchor),
          web_config_tls_basic_ms: round(median(rounds.web!)),
          web_config_ratio: round(median(rounds.web!) / anchor),
          secure_first_scrape_of_new_token_ms: round(median(firstOfToken)),
          apiserver_tokenreviews: count('antimetal_metrics_auth_reviews_total{review="tokenreview",result="ok"}'),
          apiserver_subjectaccessreviews: count('antimetal_metrics_auth_reviews_total{review="subjectaccessreview",result="ok"}'),
          secure_requests_allowed: count('antimetal_metrics_auth_decisions_total{decision="allowed"}'),
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.all([plain.stop(), https.stop(), secure.stop(), web.stop()]);
  }
} finally {
  await env.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
