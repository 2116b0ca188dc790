// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// TLS credentials of the intake channel: the trust store (private CA or the system roots), the
// client certificate for mTLS, and intake addresses given as IP literals.

import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { errorMessage } from "../util/errors.ts";

/** Where Go (crypto/x509, the original agent) looks for the system roots on Linux. */
const SYSTEM_CA_FILES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/tls/cacert.pem",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

/** A bundle that is missing or unreadable counts as absent, as Go's root loader treats it. */
function readIfPresent(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    if (err instanceof Error && "code" in err) return null;
    throw err;
  }
}

function runtimeSystemStore(): string[] {
  const getCACertificates = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  if (!getCACertificates) return [];
  try {
    return getCACertificates("system");
  } catch (err) {
    // runtimes without a system store throw here (Bun on distroless): the bundle files are next
    if (err instanceof Error) return [];
    throw err;
  }
}

/**
 * The system trust store, as the original (Go) uses: $SSL_CERT_FILE, else the OS store, else the
 * well-known bundle files. null means none was found: the runtime's bundled Mozilla roots apply
 * (distroless images have no system store).
 */
export function systemRoots(env: NodeJS.ProcessEnv = process.env): Buffer | null {
  if (env.SSL_CERT_FILE) {
    const fromEnv = readIfPresent(env.SSL_CERT_FILE);
    if (fromEnv) return fromEnv;
  }
  const certs = runtimeSystemStore();
  if (certs.length > 0) return Buffer.from(certs.join("\n"));
  for (const f of SYSTEM_CA_FILES) {
    const bundle = readIfPresent(f);
    if (bundle) return bundle;
  }
  return null;
}

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** TLS credentials (private CA or system roots; client certificate for mTLS) that also work for IP-literal addresses. */
export function secureCredentials(files: TlsFiles): grpc.ChannelCredentials {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new Error("intake client certificate and key must be given together");
  }
  const read = (what: string, file: string | undefined): Buffer | null => {
    if (file === undefined) return null;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`reading intake ${what} ${file}: ${errorMessage(err)}`);
    }
  };
  const ssl = grpc.credentials.createSsl(
    files.caFile ? read("CA file", files.caFile) : systemRoots(),
    read("client key", files.keyFile),
    read("client certificate", files.certFile),
  );
  return new IpLiteralSafeCredentials(ssl);
}

/**
 * grpc-js puts the target's host into the TLS ServerName (SNI) even when it is an IP address;
 * Bun's TLS refuses that ("Setting the TLS ServerName to an IP address is not permitted"), and SNI
 * must not carry IP literals anyway (RFC 6066 section 3). For IP targets this leaves the ServerName
 * unset: the certificate is still verified against the IP (its IP SAN), from the connection's host.
 */
class IpLiteralSafeCredentials extends grpc.ChannelCredentials {
  constructor(private readonly inner: grpc.ChannelCredentials) {
    super();
  }

  _isSecure(): boolean {
    return this.inner._isSecure();
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other instanceof IpLiteralSafeCredentials && this.inner._equals(other.inner);
  }

  _createSecureConnector(
    ...args: Parameters<grpc.ChannelCredentials["_createSecureConnector"]>
  ): ReturnType<grpc.ChannelCredentials["_createSecureConnector"]> {
    const connector = this.inner._createSecureConnector(...args);
    // grpc-js keeps the tls.connect options of a secure connector in `connectionOptions`;
    // test/intake/tls-ip.test.ts fails if a grpc-js upgrade moves them.
    const options = (connector as { connectionOptions?: tls.ConnectionOptions }).connectionOptions;
    if (options?.servername !== undefined && isIP(options.servername) !== 0) delete options.servername;
    return connector;
  }
}
