// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * TLS material of the /metrics listener: a certificate and key read from files (checked at start so a
 * bad file is one line naming the file and the option, exit 2), a client CA bundle, and a watcher that
 * re-reads the files when they change (as controller-runtime's certwatcher: a changed pair that does not
 * load is logged and the previous one kept).
 */

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { ConfigError } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import type { PemPair } from "./x509.ts";

/** Certificates, keys, CA bundles and web configs larger than this are refused. */
export const MAX_PEM_BYTES = 1 << 20;

/** Where a file came from, for error messages: the option that named it. */
export interface FileRef {
  path: string;
  /** e.g. "--metrics-cert-name" or "web config tls_server_config.cert_file". */
  field: string;
}

/** A file named by an option, as text; a read failure is a ConfigError naming the option and the file. */
export function readText(ref: FileRef, what: string): string {
  try {
    // A regular file of bounded size: a FIFO or a device would block the start, a huge file fill memory.
    const st = fs.statSync(ref.path);
    if (!st.isFile()) throw new ConfigError(`invalid ${ref.field}: ${what} ${ref.path}: not a regular file`);
    if (st.size > MAX_PEM_BYTES) throw new ConfigError(`invalid ${ref.field}: ${what} ${ref.path}: larger than 1 MiB`);
    return fs.readFileSync(ref.path, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : errorMessage(e);
    throw new ConfigError(`invalid ${ref.field}: ${what} ${ref.path}: ${why}`);
  }
}

/** Every certificate of a PEM bundle; throws naming the file when there is none or one does not parse. */
function parseCertificates(text: string, ref: FileRef, what: string): crypto.X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`invalid ${ref.field}: ${what} ${ref.path}: no PEM certificate in the file`);
  return blocks.map((b, i) => {
    try {
      return new crypto.X509Certificate(b);
    } catch (e) {
      throw new ConfigError(`invalid ${ref.field}: ${what} ${ref.path}: certificate ${i + 1} does not parse: ${errorMessage(e)}`);
    }
  });
}

/**
 * Reads and checks a serving certificate and its key: both PEM, the key is the certificate's. Returns
 * the PEM text as read (a chain after the leaf is kept). Throws a ConfigError naming the file and option.
 */
export function readKeyPair(cert: FileRef, key: FileRef): PemPair {
  return checkKeyPair(readText(cert, "certificate"), cert, readText(key, "key"), key);
}

/** The checks of readKeyPair on PEM text already read (inline in a web config: the refs' paths say so). */
export function checkKeyPair(certText: string, cert: FileRef, keyText: string, key: FileRef): PemPair {
  const [leaf] = parseCertificates(certText, cert, "certificate");
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(keyText);
  } catch (e) {
    throw new ConfigError(`invalid ${key.field}: key ${key.path}: not a PEM private key: ${errorMessage(e)}`);
  }
  if (!leaf!.checkPrivateKey(privateKey))
    throw new ConfigError(`invalid ${key.field}: key ${key.path} does not belong to the certificate ${cert.path}`);
  return { cert: certText, key: keyText };
}

/** A PEM bundle of CA certificates for verifying clients. */
export function readCaBundle(ref: FileRef): string {
  const text = readText(ref, "CA file");
  parseCertificates(text, ref, "CA file");
  return text;
}

/** The certificate's notAfter, for a log line. */
export function certificateExpiry(pem: string): string {
  return new crypto.X509Certificate(pem).validTo;
}

function stamp(p: string): string {
  try {
    const s = fs.statSync(p);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`;
  }
}

export interface CertWatcherOptions {
  cert: FileRef;
  key: FileRef;
  /** How often the files' inode, size and mtime are compared (controller-runtime polls every 10 s). */
  intervalMs?: number;
  logger: Logger;
  /** Called with a new pair that loaded and matched; a failed reload keeps the previous pair. */
  onChange: (pair: PemPair) => void;
}

/**
 * Re-reads a certificate and key when either file changes (a Secret update replaces the symlinked
 * files, which changes the inode). Polling rather than inotify: a Kubernetes Secret volume swaps a
 * `..data` symlink, which inotify on the file path does not see.
 */
export class CertWatcher {
  private timer: ReturnType<typeof setInterval> | undefined;
  private seen: string;
  pair: PemPair;

  constructor(private readonly opts: CertWatcherOptions) {
    this.seen = this.stamps();
    this.pair = readKeyPair(opts.cert, opts.key);
  }

  private stamps(): string {
    return `${stamp(this.opts.cert.path)}|${stamp(this.opts.key.path)}`;
  }

  /** Compares the files once; reloads when they changed. Returns true when a new pair was taken. */
  poll(): boolean {
    const now = this.stamps();
    if (now === this.seen) return false;
    try {
      const pair = readKeyPair(this.opts.cert, this.opts.key);
      this.seen = now;
      if (pair.cert === this.pair.cert && pair.key === this.pair.key) return false;
      this.pair = pair;
      this.opts.logger.info({ cert: this.opts.cert.path, notAfter: certificateExpiry(pair.cert) }, "serving certificate reloaded");
      this.opts.onChange(pair);
      return true;
    } catch (e) {
      // Half-written or mismatched while being replaced: keep serving the old pair and try again next poll.
      this.opts.logger.warn(
        { cert: this.opts.cert.path, err: errorMessage(e) },
        "serving certificate changed but does not load; keeping the previous one",
      );
      return false;
    }
  }

  start(): void {
    this.timer ??= setInterval(() => this.poll(), this.opts.intervalMs ?? 10_000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
