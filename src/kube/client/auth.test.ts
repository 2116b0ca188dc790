// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * What a kubeconfig turns into per request (headers, TLS, proxy), without a server: OIDC id-token,
 * kubeconfig tokenFile (re-read after a reload), impersonation, proxy selection and what is refused.
 * test/kube/access.test.ts sends the same through the real apiserver.
 */

import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { noProxyMatches, proxyFor } from "./auth.ts";
import { loadKubeconfig } from "./config.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubeauth-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, cluster: string, user: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: x, user: x, namespace: ns1}\nclusters:\n- name: x\n  cluster:\n${cluster}\nusers:\n- name: x\n  user:\n${user}\n`,
  );
  return file;
}

const header = (headers: Array<[string, string]>, name: string) =>
  headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

function jwt(payload: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none" })}.${b64(payload)}.sig`;
}

describe("kubeconfig → request credentials", () => {
  test("OIDC auth-provider: an unexpired id-token is sent as the bearer token", async () => {
    const idToken = jwt({ iss: "https://issuer.example", exp: Math.floor(Date.now() / 1000) + 3600 });
    const file = kubeconfig(
      "oidc",
      "    server: https://kube.example:6443",
      `    auth-provider:\n      name: oidc\n      config:\n        client-id: agent\n        idp-issuer-url: https://issuer.example\n        id-token: ${idToken}\n        refresh-token: r`,
    );
    const cfg = await loadKubeconfig([file], undefined, {});
    expect(cfg.namespace).toBe("ns1");
    expect(header((await cfg.auth.request()).headers, "authorization")).toEqual([`Bearer ${idToken}`]);
    expect(cfg.auth.refreshable).toBe(true);
  });

  test("tokenFile relative to the kubeconfig: trimmed, and re-read after a reload", async () => {
    fs.writeFileSync(path.join(dir, "tok"), "first-token\n");
    const file = kubeconfig("tokfile", "    server: https://kube.example", "    tokenFile: tok");
    const cfg = await loadKubeconfig([file], undefined, {});
    expect(header((await cfg.auth.request()).headers, "authorization")).toEqual(["Bearer first-token"]);
    fs.writeFileSync(path.join(dir, "tok"), "second-token");
    cfg.auth.refresh();
    expect(header((await cfg.auth.request()).headers, "authorization")).toEqual(["Bearer second-token"]);
  });

  test("impersonation: as, as-groups, as-uid, as-user-extra become Impersonate-* headers", async () => {
    const file = kubeconfig(
      "imp",
      "    server: https://kube.example\n    insecure-skip-tls-verify: true\n    tls-server-name: api.internal",
      "    token: t0\n    as: jane\n    as-groups: [team-a]\n    as-uid: u-1\n    as-user-extra:\n      scopes: [view]",
    );
    const r = await (await loadKubeconfig([file], undefined, {})).auth.request();
    expect(header(r.headers, "authorization")).toEqual(["Bearer t0"]);
    expect(header(r.headers, "impersonate-user")).toEqual(["jane"]);
    expect(header(r.headers, "impersonate-group")).toEqual(["team-a"]);
    expect(header(r.headers, "impersonate-uid")).toEqual(["u-1"]);
    expect(header(r.headers, "impersonate-extra-scopes")).toEqual(["view"]);
    expect(r.tls).toEqual({ rejectUnauthorized: false, serverName: "api.internal" });
  });

  test("a plain-HTTP server (kubectl proxy) is allowed, as before", async () => {
    const file = kubeconfig("http", "    server: http://127.0.0.1:8001", "    token: t");
    const r = await (await loadKubeconfig([file], undefined, {})).auth.request();
    expect(header(r.headers, "authorization")).toEqual(["Bearer t"]);
  });

  test("exec plugin: relative command, KUBERNETES_EXEC_INFO given, a failure names the kubeconfig", async () => {
    fs.writeFileSync(
      path.join(dir, "ok.sh"),
      `#!/bin/sh\necho "$KUBERNETES_EXEC_INFO" > ${dir}/exec-info.json\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-exec"}}'\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, "fail.sh"), "#!/bin/sh\necho 'token expired, run login' >&2\nexit 1\n", { mode: 0o755 });
    const exec = (cmd: string) => `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./${cmd}`;
    const ok = await loadKubeconfig([kubeconfig("exec-ok", "    server: https://kube.example", exec("ok.sh"))], undefined, {});
    expect(header((await ok.auth.request()).headers, "authorization")).toEqual(["Bearer from-exec"]);
    const info = JSON.parse(fs.readFileSync(path.join(dir, "exec-info.json"), "utf8"));
    expect(info).toMatchObject({ kind: "ExecCredential", spec: { interactive: false, cluster: { server: "https://kube.example" } } });
    const failing = await loadKubeconfig([kubeconfig("exec-fail", "    server: https://kube.example", exec("fail.sh"))], undefined, {});
    await expect(failing.auth.request()).rejects.toThrow(/^credentials for kubeconfig .*exec-fail context x: token expired, run login$/);
  });

  test("basic auth becomes an Authorization: Basic header", async () => {
    const file = kubeconfig("basic", "    server: https://kube.example", "    username: u\n    password: p");
    const r = await (await loadKubeconfig([file], undefined, {})).auth.request();
    expect(header(r.headers, "authorization")).toEqual([`Basic ${Buffer.from("u:p").toString("base64")}`]);
  });

  test("refused with the file and user named: gcp auth-provider, SOCKS proxy-url, several impersonated groups", async () => {
    const gcp = kubeconfig("gcp", "    server: https://kube.example", "    auth-provider: {name: gcp, config: {}}");
    await expect(loadKubeconfig([gcp], undefined, {})).rejects.toThrow(/gcp.*gcp auth-provider plugin; use an exec credential plugin/);
    const socks = kubeconfig("socks", "    server: https://kube.example\n    proxy-url: socks5://127.0.0.1:1080", "    token: t");
    await expect(loadKubeconfig([socks], undefined, {})).rejects.toThrow(/socks.*SOCKS proxy/);
    const groups = kubeconfig("groups", "    server: https://kube.example", "    token: t\n    as: jane\n    as-groups: [a, b]");
    await expect(loadKubeconfig([groups], undefined, {})).rejects.toThrow(/groups user "x": impersonation with more than one group/);
    const cert = kubeconfig("certonly", "    server: https://kube.example", "    client-certificate-data: eA==");
    await expect(loadKubeconfig([cert], undefined, {})).rejects.toThrow(/client certificate without a key/);
  });

  test("merge: the first file wins for a name, current-context from the first that has one", async () => {
    const a = kubeconfig("merge-a", "    server: https://first.example", "    token: from-a");
    const b = path.join(dir, "merge-b");
    fs.writeFileSync(
      b,
      "apiVersion: v1\nkind: Config\ncurrent-context: y\ncontexts:\n- name: y\n  context: {cluster: x, user: x}\nclusters:\n- name: x\n  cluster: {server: https://second.example}\nusers:\n- name: x\n  user: {token: from-b}\n",
    );
    const cfg = await loadKubeconfig([a, b], undefined, {});
    expect(cfg.server).toBe("https://first.example");
    expect(cfg.contextName).toBe("x");
    const other = await loadKubeconfig([b, a], "x", {});
    expect(other.server).toBe("https://second.example");
    expect(header((await other.auth.request()).headers, "authorization")).toEqual(["Bearer from-b"]);
  });
});

describe("proxy selection", () => {
  const server = "https://10.0.0.1:6443";
  test("proxy-url first, then HTTPS_PROXY unless NO_PROXY names the host", () => {
    expect(proxyFor(server, "http://proxy:3128", { HTTPS_PROXY: "http://other:3128" })).toBe("http://proxy:3128");
    expect(proxyFor(server, undefined, { HTTPS_PROXY: "http://p:1" })).toBe("http://p:1");
    expect(proxyFor(server, undefined, { https_proxy: "http://p:1", NO_PROXY: "10.0.0.0/8" })).toBeUndefined();
    expect(proxyFor("http://10.0.0.1:8080", undefined, { HTTPS_PROXY: "http://p:1" })).toBeUndefined();
    expect(proxyFor(server, undefined, {})).toBeUndefined();
  });

  test("NO_PROXY forms", () => {
    const u = new URL("https://api.prod.example.com:6443");
    expect(noProxyMatches(u, "*")).toBe(true);
    expect(noProxyMatches(u, "example.com")).toBe(true);
    expect(noProxyMatches(u, ".example.com")).toBe(true);
    expect(noProxyMatches(u, "api.prod.example.com:6443")).toBe(true);
    expect(noProxyMatches(u, "api.prod.example.com:443")).toBe(false);
    expect(noProxyMatches(u, "ample.com, other.org")).toBe(false);
    expect(noProxyMatches(new URL("https://[::1]:6443"), "::1")).toBe(true);
    expect(noProxyMatches(new URL("https://192.168.1.7"), "192.168.0.0/16")).toBe(true);
    expect(noProxyMatches(new URL("https://192.169.1.7"), "192.168.0.0/16")).toBe(false);
  });
});

describe("kubeconfig parsing", () => {
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  test("anchors, merge keys and flow mappings read as client-node reads them", async () => {
    const file = write(
      "anchors",
      "current-context: b\ncontexts:\n- name: a\n  context: &ctx {cluster: c, user: u, namespace: ns-a}\n- name: b\n  context:\n    <<: *ctx\n    namespace: ns-b\nclusters:\n- {name: c, cluster: {server: 'https://kube.example:6443/', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {token: \"t0k\"}\n",
    );
    const cfg = await loadKubeconfig([file], undefined, {});
    expect(cfg.server).toBe("https://kube.example:6443");
    expect(cfg.namespace).toBe("ns-b");
    expect(cfg.contextName).toBe("b");
    const auth = await cfg.auth.request();
    expect(header(auth.headers, "authorization")).toEqual(["Bearer t0k"]);
    expect(auth.tls.rejectUnauthorized).toBe(false);
  });

  test("a syntax error names the file and the line", async () => {
    const file = write("broken", "current-context: x\nclusters:\n- name: x\n  cluster: {server: https://a\n");
    await expect(loadKubeconfig([file], undefined, {})).rejects.toThrow(new RegExp(`^kubeconfig ${file}: .* at line \\d+, column \\d+`));
  });

  test("several YAML documents are refused, not merged or half-read", async () => {
    const file = write("multi", "current-context: x\n---\ncurrent-context: y\n");
    await expect(loadKubeconfig([file], undefined, {})).rejects.toThrow(new RegExp(`^kubeconfig ${file}: .*document`));
  });

  test("an empty file has no current context", async () => {
    const file = write("empty", "");
    await expect(loadKubeconfig([file], undefined, {})).rejects.toThrow(`kubeconfig ${file}: no current-context`);
  });
});
