// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The compiled agent's client-node (scripts/build-plugins.ts cuts undici, socks, hpagent and
 * jsonpath-plus out of it and loads openid-client on first OIDC use) gives the same request
 * credentials as the source: the same kubeconfigs turned into headers, TLS and proxy by a bundle
 * built with the binary's plugins and by src/ directly, including an expired OIDC token whose
 * refresh runs openid-client's discovery. The bundle holds none of the cut packages, and
 * openid-client only in a chunk of its own.
 */

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pluginsFor } from "../../scripts/build-plugins.ts";

const root = path.join(import.meta.dir, "../..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "client-node-trim-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function jwt(payload: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none" })}.${b64(payload)}.sig`;
}

function kubeconfig(name: string, cluster: string, user: string): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\nclusters:\n- name: x\n  cluster:\n${cluster}\nusers:\n- name: x\n  user:\n${user}\n`,
  );
  return file;
}

test("bundled with the binary's plugins, client-node gives the source's credentials; cut packages absent", async () => {
  const now = Math.floor(Date.now() / 1000);
  const files = [
    kubeconfig("token", "    server: https://kube.example:6443\n    insecure-skip-tls-verify: true", "    token: t0\n    as: jane"),
    kubeconfig(
      "proxy",
      "    server: https://kube.example:6443\n    proxy-url: http://proxy.example:3128\n    tls-server-name: api.internal",
      "    username: u\n    password: p",
    ),
    kubeconfig(
      "oidc-valid",
      "    server: https://kube.example:6443",
      `    auth-provider:\n      name: oidc\n      config:\n        client-id: agent\n        idp-issuer-url: https://issuer.example\n        id-token: ${jwt({ exp: now + 3600 })}\n        refresh-token: r`,
    ),
    // expired: the refresh runs openid-client's discovery against a closed local port
    kubeconfig(
      "oidc-expired",
      "    server: https://kube.example:6443",
      `    auth-provider:\n      name: oidc\n      config:\n        client-id: agent\n        idp-issuer-url: https://127.0.0.1:9\n        id-token: ${jwt({ exp: now - 3600 })}\n        refresh-token: r`,
    ),
  ];
  const entry = path.join(dir, "entry.ts");
  fs.writeFileSync(
    entry,
    [
      `import { loadKubeconfig } from ${JSON.stringify(path.join(root, "src/kube/client/config.ts"))};`,
      `const out = [];`,
      `for (const f of process.argv.slice(2)) {`,
      `  try { out.push(await (await loadKubeconfig([f], undefined, {})).auth.request()); }`,
      `  catch (e) { out.push({ error: String(e.message).replace(/\\s+/g, " ").slice(0, 160) }); }`,
      `}`,
      `console.log(JSON.stringify(out));`,
    ].join("\n"),
  );
  const outdir = path.join(dir, "out");
  const built = await Bun.build({
    entrypoints: [entry],
    outdir,
    target: "bun",
    format: "esm",
    splitting: true,
    metafile: true,
    plugins: pluginsFor("x64").slice(1),
  });
  expect(built.success).toBe(true);
  const inputs = Object.keys(built.metafile!.inputs);
  for (const cut of ["/undici/", "/socks/", "/socks-proxy-agent/", "/hpagent/", "/jsonpath-plus/"]) {
    expect(inputs.filter((i) => i.includes(`node_modules${cut}`))).toEqual([]);
  }
  const entryChunk = Object.entries(built.metafile!.outputs).find(([, o]) => o.entryPoint?.endsWith("entry.ts"))!;
  expect(Object.keys(entryChunk[1].inputs).some((i) => i.includes("openid-client"))).toBe(false);
  expect(inputs.some((i) => i.includes("node_modules/openid-client/"))).toBe(true);

  const run = async (script: string) => {
    const p = Bun.spawn([process.execPath, script, ...files], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_PROXY: "", HTTPS_PROXY: "" },
    });
    const [text, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(await p.exited, err).toBe(0);
    return JSON.parse(text) as Array<Record<string, unknown>>;
  };
  const fromSource = await run(entry);
  const fromBundle = await run(path.join(outdir, "entry.js"));
  expect(fromBundle).toEqual(fromSource);
  // what the four kubeconfigs turn into (so the comparison is not of two empty answers)
  expect(fromSource[0]!.headers).toContainEqual(["Authorization", "Bearer t0"]);
  expect(fromSource[1]).toMatchObject({ proxy: "http://proxy.example:3128", tls: { serverName: "api.internal" } });
  expect(fromSource[1]!.headers).toContainEqual(["Authorization", `Basic ${Buffer.from("u:p").toString("base64")}`]);
  expect((fromSource[2]!.headers as Array<[string, string]>)[0]![1]).toStartWith("Bearer ");
  // openid-client's own answer (client-node hands its discovery a string where it wants a URL): the
  // lazily loaded module ran, in both
  expect(String(fromSource[3]!.error)).toContain("credentials for kubeconfig");
  expect(String(fromSource[3]!.error)).toContain("must be an instance of URL");
});
