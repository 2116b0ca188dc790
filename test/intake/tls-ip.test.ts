// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// An intake addressed by IP (IPv4 and bracketed IPv6) over TLS: the certificate's IP SAN is
// verified, a certificate without that IP is refused.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { checkIntake } from "../../src/intake/index.ts";
import { capturedLogger, depth, intake, memoryStore } from "./common.ts";
import { resource } from "./fixtures.ts";
import { IntakeServer, makePki, type Pki, waitFor } from "./harness.ts";

let pki: Pki;
let dnsOnly: Pki;
beforeAll(() => {
  pki = makePki();
  dnsOnly = makePki({ serverSans: "DNS:localhost" });
}, 30_000);
afterAll(() => {
  pki.cleanup();
  dnsOnly.cleanup();
});

for (const [family, host, address] of [
  ["IPv4", "127.0.0.1", (port: number) => `127.0.0.1:${port}`],
  ["IPv6", "::1", (port: number) => `[::1]:${port}`],
] as const) {
  test(`TLS to an intake given as an ${family} address delivers, verifying the certificate's IP SAN`, async () => {
    const srv = await IntakeServer.start({ pki, host, apiKey: "ip-key", quiet: true });
    const { logger } = capturedLogger("info");
    const store = memoryStore(logger);
    try {
      for (let i = 0; i < 10; i++) store.updateResource(resource(`ip-${i}`, 1));
      const c = intake({ address: address(srv.port), apiKey: "ip-key", caFile: pki.ca, store, logger, tuning: { channels: ["cluster"] } });
      await c.start();
      await waitFor("delivered over TLS to an IP address", () => depth(store) === 0, 15_000);
      await c.stop(AbortSignal.timeout(3_000));
      expect((await srv.state()).live.length).toBe(10);
      const check = await checkIntake({
        address: address(srv.port),
        apiKey: "ip-key",
        caFile: pki.ca,
        secure: true,
        logger,
        timeoutMs: 5_000,
      });
      expect(check).toMatchObject({ ok: true, code: "OK" });
    } finally {
      store.close();
      await srv.kill();
    }
  }, 30_000);

  test(`TLS to an ${family} address is refused when the certificate does not name that IP`, async () => {
    const srv = await IntakeServer.start({ pki: dnsOnly, host, apiKey: "ip-key", quiet: true });
    const { logger } = capturedLogger("info");
    try {
      const check = await checkIntake({
        address: address(srv.port),
        apiKey: "ip-key",
        caFile: dnsOnly.ca,
        secure: true,
        logger,
        timeoutMs: 3_000,
      });
      expect(check.ok).toBe(false);
      expect(check.code).toBe("UNAVAILABLE");
      expect((await srv.state()).streams.total).toBe(0);
    } finally {
      await srv.kill();
    }
  }, 30_000);
}
