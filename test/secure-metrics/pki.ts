// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test helper for the secure /metrics tests: certificates made with openssl (a CA, serving and client
// certificates it signs), the peer certificate a TLS server presents, and HTTPS requests that
// verify against a given CA or skip verification like a ServiceMonitor with insecureSkipVerify.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";

function ssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA (<name>.crt/.key) in dir. */
export function makeCa(dir: string, name: string): { cert: string; key: string } {
  ssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-subj",
      `/CN=${name}`,
      "-days",
      "2",
    ],
    dir,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/** A certificate signed by the CA, for a server (SAN 127.0.0.1, localhost) or a client. */
export function makeSigned(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  usage: "server" | "client",
): { cert: string; key: string } {
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    usage === "server" ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n",
  );
  ssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ],
    dir,
  );
  ssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/** The certificate the server at 127.0.0.1:port presents (not verified). */
export async function peerCertificate(port: number): Promise<tls.PeerCertificate> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, servername: "localhost" }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.once("error", reject);
  });
}

export interface Got {
  status: number;
  body: string;
  headers: Headers;
}

/** GET over HTTPS; `ca` verifies the server, otherwise verification is skipped. A failed handshake is status 0. */
export async function httpsGet(
  url: string,
  opts: { ca?: string; headers?: Record<string, string>; cert?: string; key?: string } = {},
): Promise<Got> {
  const t: Record<string, unknown> = opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false };
  if (opts.cert) Object.assign(t, { cert: opts.cert, key: opts.key });
  try {
    const res = await fetch(url, { headers: opts.headers, tls: t, keepalive: false });
    return { status: res.status, body: await res.text(), headers: res.headers };
  } catch (e) {
    return { status: 0, body: String(e), headers: new Headers() };
  }
}
