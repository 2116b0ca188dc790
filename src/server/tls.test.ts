// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// readKeyPair and CertWatcher on real files: a replaced pair is taken, a half-replaced or broken one
// is refused and the previous pair kept, and the error of a bad file names the option and the path.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeLogger } from "../cli/context.ts";
import { CertWatcher, MAX_PEM_BYTES, readCaBundle, readKeyPair } from "./tls.ts";
import type { PemPair } from "./x509.ts";
import { selfSignedCertificate } from "./x509.ts";

const logger = makeLogger({ logLevel: "silent", logFormat: "json" } as never);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "antimetal-tls-unit-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cert = { path: path.join(dir, "tls.crt"), field: "--metrics-cert-name" };
const key = { path: path.join(dir, "tls.key"), field: "--metrics-key-name" };
const make = () => selfSignedCertificate({ commonName: "w", hosts: ["localhost"], validDays: 1 });
const write = (p: PemPair) => {
  // Replace by rename, as a Secret volume does.
  for (const [file, text] of [
    [cert.path, p.cert],
    [key.path, p.key],
  ] as const) {
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  }
};

describe("CertWatcher", () => {
  test("takes a replaced pair, keeps the previous one while the files do not load", () => {
    const first = make();
    write(first);
    const seen: PemPair[] = [];
    const w = new CertWatcher({ cert, key, logger, onChange: (p) => seen.push(p) });
    expect(w.pair).toEqual(first);
    expect(w.poll()).toBe(false);

    const second = make();
    write(second);
    expect(w.poll()).toBe(true);
    expect(seen).toEqual([second]);

    // Half-replaced: a new certificate with the old key.
    const third = make();
    fs.writeFileSync(cert.path, third.cert);
    expect(w.poll()).toBe(false);
    expect(w.pair).toEqual(second);
    fs.writeFileSync(key.path, third.key);
    expect(w.poll()).toBe(true);
    expect(seen.at(-1)).toEqual(third);

    fs.rmSync(key.path);
    expect(w.poll()).toBe(false);
    expect(w.pair).toEqual(third);
  });
});

describe("readKeyPair / readCaBundle", () => {
  test("errors name the option and the file", () => {
    const p = make();
    write(p);
    expect(readKeyPair(cert, key)).toEqual(p);
    fs.writeFileSync(key.path, make().key);
    expect(() => readKeyPair(cert, key)).toThrow(
      `invalid --metrics-key-name: key ${key.path} does not belong to the certificate ${cert.path}`,
    );
    expect(() => readCaBundle({ path: path.join(dir, "none.pem"), field: "client_ca_file" })).toThrow(
      `invalid client_ca_file: CA file ${path.join(dir, "none.pem")}: no such file`,
    );
    expect(readCaBundle(cert)).toBe(p.cert);
  });

  test("a FIFO, a directory or a file over 1 MiB is refused without reading it", () => {
    const fifo = path.join(dir, "fifo.crt");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(() => readCaBundle({ path: fifo, field: "f" })).toThrow(`invalid f: CA file ${fifo}: not a regular file`);
    expect(() => readCaBundle({ path: dir, field: "f" })).toThrow("not a regular file");
    const big = path.join(dir, "big.crt");
    fs.writeFileSync(big, Buffer.alloc(MAX_PEM_BYTES + 1, 0x41));
    expect(() => readCaBundle({ path: big, field: "f" })).toThrow(`invalid f: CA file ${big}: larger than 1 MiB`);
  });
});
