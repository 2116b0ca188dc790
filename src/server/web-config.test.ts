// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// loadWebConfig and BasicAuth: what an exporter-toolkit web config turns into (TLS options, version
// bits, headers, users), the errors that name the field, and basic auth against bcrypt hashes.

import { afterAll, describe, expect, test } from "bun:test";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BasicAuth, loadWebConfig } from "./web-config.ts";
import { selfSignedCertificate } from "./x509.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-webcfg-unit-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const pair = selfSignedCertificate({ commonName: "t", hosts: ["localhost"], validDays: 1 });
fs.writeFileSync(path.join(dir, "s.crt"), pair.cert);
fs.writeFileSync(path.join(dir, "s.key"), pair.key);

function load(text: string): ReturnType<typeof loadWebConfig> {
  const f = path.join(dir, `c-${crypto.randomUUID()}.yml`);
  fs.writeFileSync(f, text);
  return loadWebConfig(f);
}

describe("loadWebConfig", () => {
  test("an empty file is plain HTTP without auth", () => {
    const c = load("");
    expect(c.tls).toBeUndefined();
    expect(c.users.size).toBe(0);
  });

  test("TLS from relative files, TLS 1.2 minimum by default; min/max versions become OpenSSL option bits", () => {
    const c = load("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n");
    expect(c.tls!.cert).toBe(pair.cert);
    expect(c.certFiles!.cert.path).toBe(path.join(dir, "s.crt"));
    const k = crypto.constants;
    expect(c.tls!.secureOptions).toBe(k.SSL_OP_NO_TLSv1 | k.SSL_OP_NO_TLSv1_1);
    const only12 = load("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  max_version: TLS12\n");
    expect(only12.tls!.secureOptions).toBe(k.SSL_OP_NO_TLSv1 | k.SSL_OP_NO_TLSv1_1 | k.SSL_OP_NO_TLSv1_3);
    expect(() => load("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  min_version: TLS13\n  max_version: TLS12\n")).toThrow(
      "tls_server_config.max_version: TLS12 is below min_version TLS13",
    );
  });

  test("inline cert and key are accepted and checked", () => {
    const c = load(`tls_server_config:\n  cert: ${JSON.stringify(pair.cert)}\n  key: ${JSON.stringify(pair.key)}\n`);
    expect(c.tls!.key).toBe(pair.key);
    expect(c.certFiles).toBeUndefined();
    const other = selfSignedCertificate({ commonName: "o", hosts: [], validDays: 1 });
    expect(() => load(`tls_server_config:\n  cert: ${JSON.stringify(pair.cert)}\n  key: ${JSON.stringify(other.key)}\n`)).toThrow(
      "key (inline) does not belong to the certificate (inline)",
    );
  });

  test("a client CA with RequireAndVerifyClientCert asks for and verifies client certificates", () => {
    const c = load(
      "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: s.crt\n",
    );
    expect(c.tls).toMatchObject({ ca: pair.cert, requestCert: true, rejectUnauthorized: true });
    expect(() =>
      load("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAndVerifyClientCert\n"),
    ).toThrow("tls_server_config.client_ca_file: missing");
    expect(() => load("tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: Sometimes\n")).toThrow(
      'client_auth_type: invalid value "Sometimes"',
    );
  });

  test("headers: only exporter-toolkit's, with its allowed values", () => {
    expect(load("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n").headers).toEqual({
      "X-Content-Type-Options": "nosniff",
    });
    expect(() => load("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")).toThrow(
      'headers.X-Frame-Options: invalid value "allow"',
    );
    expect(() => load("http_server_config:\n  http2: maybe\n")).toThrow("http_server_config.http2");
  });

  test("wrong types and unknown keys name the field", () => {
    expect(() => load("basic_auth_users: [a]\n")).toThrow("basic_auth_users");
    expect(() => load("tls_config: {}\n")).toThrow("(top level).tls_config");
    expect(() => load("tls_server_config:\n  min_version: TLS9\n")).toThrow("tls_server_config.min_version");
  });
});

describe("BasicAuth", () => {
  test("right password passes; wrong, unknown user, malformed header fail with WWW-Authenticate: Basic", async () => {
    const hash = await Bun.password.hash("pw", { algorithm: "bcrypt", cost: 4 });
    const auth = new BasicAuth(new Map([["alice", hash]]));
    const r = (h?: string) => new Request("https://x/metrics", { headers: h ? { authorization: h } : {} });
    expect(await auth.check(r(`Basic ${btoa("alice:pw")}`))).toBeUndefined();
    expect(await auth.check(r(`basic ${btoa("alice:pw")}`))).toBeUndefined();
    for (const h of [`Basic ${btoa("alice:nope")}`, `Basic ${btoa("bob:pw")}`, `Basic ${btoa("alicepw")}`, "Bearer t", undefined]) {
      const res = (await auth.check(r(h)))!;
      expect(`${h} ${res.status} ${res.headers.get("www-authenticate")}`).toBe(`${h} 401 Basic`);
    }
  });

  test("no users: everything passes", async () => {
    expect(await new BasicAuth(new Map()).check(new Request("https://x/"))).toBeUndefined();
  });
});
