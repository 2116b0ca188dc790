// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The hand-written self-signed certificate: openssl reads it as the intended X.509 v3 certificate,
// node:crypto verifies its signature and key, and a TLS client that trusts it completes a handshake
// by IP and by name.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import { selfSignedCertificate } from "./x509.ts";

describe("selfSignedCertificate", () => {
  const now = new Date("2026-03-01T12:00:00Z");
  const pair = selfSignedCertificate({
    commonName: "antimetal-agent",
    hosts: ["localhost", "127.0.0.1", "::1", "node-7.example"],
    validDays: 365,
    now,
  });

  test("openssl reads the intended certificate: v3, ECDSA P-256/SHA-256, CN, validity, extensions", () => {
    const r = spawnSync("openssl", ["x509", "-noout", "-text"], { input: pair.cert, encoding: "utf8" });
    expect(r.status).toBe(0);
    for (const want of [
      "Version: 3 (0x2)",
      "Signature Algorithm: ecdsa-with-SHA256",
      "Issuer: CN = antimetal-agent",
      "Subject: CN = antimetal-agent",
      "Not Before: Mar  1 11:00:00 2026 GMT",
      "Not After : Mar  1 12:00:00 2027 GMT",
      "NIST CURVE: P-256",
      "CA:FALSE",
      "Digital Signature",
      "TLS Web Server Authentication",
      "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:node-7.example",
    ])
      expect(r.stdout).toContain(want);
  });

  test("the signature verifies with its own key, and the key is the certificate's", () => {
    const x = new crypto.X509Certificate(pair.cert);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(crypto.createPrivateKey(pair.key))).toBe(true);
    expect(x.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  test("each call makes a new key and serial", () => {
    const other = selfSignedCertificate({ commonName: "antimetal-agent", hosts: ["localhost"], validDays: 1 });
    expect(other.key).not.toBe(pair.key);
    expect(new crypto.X509Certificate(other.cert).serialNumber).not.toBe(new crypto.X509Certificate(pair.cert).serialNumber);
  });

  test("a client trusting it completes a TLS handshake by IP and by name", async () => {
    const fresh = selfSignedCertificate({ commonName: "antimetal-agent", hosts: ["localhost", "127.0.0.1"], validDays: 1 });
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: fresh, fetch: () => new Response("ok") });
    try {
      for (const host of ["127.0.0.1", "localhost"]) {
        const res = await fetch(`https://${host}:${server.port}/`, { tls: { ca: fresh.cert } });
        expect(await res.text()).toBe("ok");
      }
    } finally {
      server.stop(true);
    }
  });

  test("validity after 2049 is written as GeneralizedTime", () => {
    const late = selfSignedCertificate({ commonName: "x", hosts: [], validDays: 10, now: new Date("2049-12-30T00:00:00Z") });
    expect(new crypto.X509Certificate(late.cert).validTo).toBe("Jan  9 00:00:00 2050 GMT");
  });
});
