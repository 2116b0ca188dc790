// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// --web-config-file (node_exporter's web configuration) on the compiled agent without Kubernetes:
// TLS with basic auth (bcrypt), a client CA with RequireAndVerifyClientCert, min_version, the
// allowed security headers, and a bad file or field exiting 2 with the file and the field named.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { type AgentProcess, requireBinary, startAgent } from "../helpers/agent-process.ts";
import { httpsGet, makeCa, makeSigned } from "./pki.ts";

const STANDALONE = ["--enable-kubernetes-controller=false", "--leader-elect=false", "--intake-address=", "--data-directory="];

let dir: string;
let ca: { cert: string; key: string };
let serving: { cert: string; key: string };
let caPem: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-web-config-"));
  ca = makeCa(dir, "web-ca");
  serving = makeSigned(dir, ca, "web-serving", "server");
  caPem = fs.readFileSync(ca.cert, "utf8");
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${btoa(`${user}:${password}`)}` });

describe("TLS and basic auth", () => {
  let agent: AgentProcess;
  let url: string;
  beforeAll(async () => {
    const hash = await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 6 });
    // Relative file names resolve against the web config's directory, as exporter-toolkit does.
    const file = writeConfig(
      "tls-basic.yml",
      [
        "tls_server_config:",
        "  cert_file: web-serving.crt",
        "  key_file: web-serving.key",
        "  min_version: TLS13",
        "http_server_config:",
        "  headers:",
        "    X-Frame-Options: deny",
        "    Strict-Transport-Security: max-age=31536000",
        "basic_auth_users:",
        `  prometheus: ${JSON.stringify(hash)}`,
        "",
      ].join("\n"),
    );
    agent = await startAgent([...STANDALONE, `--web-config-file=${file}`]);
    url = `https://127.0.0.1:${agent.ports.metrics}/metrics`;
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
  });

  test("the right password gets 200, the metrics and the configured headers", async () => {
    const r = await httpsGet(url, { ca: caPem, headers: basic("prometheus", "s3cret") });
    expect(r.status).toBe(200);
    expect(r.body).toContain("antimetal_build_info{");
    expect(r.headers.get("x-frame-options")).toBe("deny");
    expect(r.headers.get("strict-transport-security")).toBe("max-age=31536000");
    // Cached success: the second request is served the same.
    expect((await httpsGet(url, { ca: caPem, headers: basic("prometheus", "s3cret") })).status).toBe(200);
  });

  test("a wrong password, an unknown user or no credentials get 401 with WWW-Authenticate: Basic", async () => {
    for (const headers of [basic("prometheus", "wrong"), basic("nobody", "s3cret"), {}, { authorization: "Bearer x" }]) {
      const r = await httpsGet(url, { ca: caPem, headers });
      expect(`${JSON.stringify(headers)} ${r.status}`).toBe(`${JSON.stringify(headers)} 401`);
      expect(r.headers.get("www-authenticate")).toBe("Basic");
    }
  });

  test("min_version TLS13: a TLS 1.2 client is refused", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect(
        { host: "127.0.0.1", port: agent.ports.metrics!, ca: caPem, servername: "localhost", maxVersion: "TLSv1.2" },
        () => {
          resolve(`connected ${s.getProtocol()}`);
          s.end();
        },
      );
      s.once("error", (e) => resolve(`refused: ${e.message}`));
    });
    expect(outcome).toStartWith("refused");
    const ok = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port: agent.ports.metrics!, ca: caPem, servername: "localhost" }, () => {
        resolve(`${s.getProtocol()}`);
        s.end();
      });
      s.once("error", (e) => resolve(`refused: ${e.message}`));
    });
    expect(ok).toBe("TLSv1.3");
  });
});

describe("client certificates", () => {
  test("RequireAndVerifyClientCert: a client certificate signed by client_ca_file is accepted; none or another CA's is refused", async () => {
    const clientCa = makeCa(dir, "client-ca");
    const otherCa = makeCa(dir, "other-ca");
    const good = makeSigned(dir, clientCa, "good-client", "client");
    const bad = makeSigned(dir, otherCa, "bad-client", "client");
    const file = writeConfig(
      "mtls.yml",
      [
        "tls_server_config:",
        `  cert_file: ${serving.cert}`,
        `  key_file: ${serving.key}`,
        "  client_auth_type: RequireAndVerifyClientCert",
        `  client_ca_file: ${clientCa.cert}`,
        "",
      ].join("\n"),
    );
    const agent = await startAgent([...STANDALONE, `--web-config-file=${file}`]);
    try {
      const url = `https://127.0.0.1:${agent.ports.metrics}/metrics`;
      const read = (p: string) => fs.readFileSync(p, "utf8");
      const ok = await httpsGet(url, { ca: caPem, cert: read(good.cert), key: read(good.key) });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain("antimetal_build_info{");
      expect((await httpsGet(url, { ca: caPem })).status).toBe(0);
      expect((await httpsGet(url, { ca: caPem, cert: read(bad.cert), key: read(bad.key) })).status).toBe(0);
    } finally {
      await agent.stop();
    }
  }, 60_000);
});

describe("bad web config files", () => {
  test("each problem exits 2 with one line naming the file and the field", async () => {
    const hash = "$2y$10$" + "a".repeat(53);
    const cases: Array<[string, string, RegExp, string[]?]> = [
      ["unknown field", "tls_server_config:\n  certfile: x.crt\n", /tls_server_config\.certfile/],
      [
        "missing certificate file",
        "tls_server_config:\n  cert_file: nope.crt\n  key_file: web-serving.key\n",
        /tls_server_config\.cert_file: certificate \S+\/nope\.crt: no such file/,
      ],
      ["key without certificate", "tls_server_config:\n  key_file: web-serving.key\n", /tls_server_config\.cert_file: missing/],
      [
        "garbage certificate",
        "tls_server_config:\n  cert_file: garbage.crt\n  key_file: web-serving.key\n",
        /tls_server_config\.cert_file: certificate \S+\/garbage\.crt: no PEM certificate/,
      ],
      [
        "another certificate's key",
        "tls_server_config:\n  cert_file: web-serving.crt\n  key_file: web-ca.key\n",
        /tls_server_config\.key_file: key \S+\/web-ca\.key does not belong/,
      ],
      ["not a bcrypt hash", "basic_auth_users:\n  alice: plaintext\n", /basic_auth_users\.alice: not a bcrypt hash/],
      [
        "client auth type not supported",
        `tls_server_config:\n  cert_file: web-serving.crt\n  key_file: web-serving.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: web-ca.crt\n`,
        /client_auth_type: VerifyClientCertIfGiven is not supported/,
      ],
      [
        "client CA without a policy",
        "tls_server_config:\n  cert_file: web-serving.crt\n  key_file: web-serving.key\n  client_ca_file: web-ca.crt\n",
        /client_auth_type: client CA configured without a client auth policy/,
      ],
      [
        "cipher suites",
        "tls_server_config:\n  cert_file: web-serving.crt\n  key_file: web-serving.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
        /tls_server_config\.cipher_suites: not supported/,
      ],
      [
        "header not allowed",
        "http_server_config:\n  headers:\n    Server: x\n",
        /http_server_config\.headers\.Server: this header cannot be configured/,
      ],
      [
        "with --metrics-secure",
        `basic_auth_users:\n  alice: "${hash}"\n`,
        /--web-config-file: cannot be combined with --metrics-secure/,
        ["--metrics-secure"],
      ],
    ];
    fs.writeFileSync(path.join(dir, "garbage.crt"), "hello\n");
    for (const [name, text, message, extra] of cases) {
      const file = writeConfig(`bad-${name.replaceAll(" ", "-").replaceAll("'", "")}.yml`, text);
      const p = Bun.spawn(
        [
          requireBinary(),
          "run",
          ...STANDALONE,
          `--web-config-file=${file}`,
          "--metrics-bind-address=127.0.0.1:0",
          "--health-probe-bind-address=127.0.0.1:0",
          ...(extra ?? []),
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect(`${name}: exit ${code}`).toBe(`${name}: exit 2`);
      expect(`${name}: ${stderr}`).toMatch(message);
      if (!extra) expect(`${name}: ${stderr}`).toContain(file);
    }
    const missing = Bun.spawn([requireBinary(), "run", ...STANDALONE, `--web-config-file=${path.join(dir, "absent.yml")}`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await missing.exited).toBe(2);
    expect(await new Response(missing.stderr).text()).toContain(
      `invalid --web-config-file: file ${path.join(dir, "absent.yml")}: no such file`,
    );
  }, 60_000);
});
