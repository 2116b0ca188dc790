// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// ExternalNames against a real DNS server over UDP (test/helpers/dns-server.ts): A and AAAA answers,
// NXDOMAIN, a server that stops answering (the last answer is kept), names that come and go, the bound.

import { afterEach, expect, test } from "bun:test";
import { startTestDnsServer, type TestDnsServer } from "../../test/helpers/dns-server.ts";
import { ExternalNames } from "./dns-names.ts";

let server: TestDnsServer | undefined;
let names: ExternalNames | undefined;
afterEach(() => {
  names?.stop();
  server?.close();
  names = server = undefined;
});

test("each name's A and AAAA addresses map back to it; an unknown name maps nothing", async () => {
  server = await startTestDnsServer({
    "db.example.test": ["203.0.113.7", "203.0.113.8", "2001:db8::7"],
    "cache.example.test": ["198.51.100.1"],
  });
  names = new ExternalNames({ names: () => ["cache.example.test", "db.example.test", "nope.example.test"], servers: [server.address] });
  await names.refresh();
  expect(names.nameOf("203.0.113.7")).toBe("db.example.test");
  expect(names.nameOf("203.0.113.8")).toBe("db.example.test");
  expect(names.nameOf("2001:db8::7")).toBe("db.example.test");
  expect(names.nameOf("198.51.100.1")).toBe("cache.example.test");
  expect(names.nameOf("203.0.113.9")).toBeUndefined();
  expect(server.queries.filter((q) => q === "nope.example.test")).toHaveLength(2); // A and AAAA, both NXDOMAIN
});

test("an address two names share is the first name's; a server that stops answering leaves the last answer in place", async () => {
  server = await startTestDnsServer({ "b.example.test": ["203.0.113.1"], "a.example.test": ["203.0.113.1"] });
  names = new ExternalNames({ names: () => ["a.example.test", "b.example.test"], servers: [server.address], timeoutMs: 1500 });
  await names.refresh();
  expect(names.nameOf("203.0.113.1")).toBe("a.example.test");
  server.silent = true;
  server.records.set("a.example.test", ["203.0.113.99"]);
  await names.refresh();
  expect(names.nameOf("203.0.113.1")).toBe("a.example.test");
  expect(names.nameOf("203.0.113.99")).toBeUndefined();
  server.silent = false;
  await names.refresh();
  expect(names.nameOf("203.0.113.99")).toBe("a.example.test");
  expect(names.nameOf("203.0.113.1")).toBe("b.example.test");
});

test("a new name is resolved when the set changes, a removed one is forgotten; names beyond the bound are not resolved", async () => {
  server = await startTestDnsServer({ "one.example.test": ["192.0.2.1"], "two.example.test": ["192.0.2.2"] });
  let list = ["one.example.test"];
  names = new ExternalNames({ names: () => list, servers: [server.address] });
  names.start();
  const until = async (ok: () => boolean) => {
    for (const end = Date.now() + 5000; !ok(); await Bun.sleep(20)) if (Date.now() > end) throw new Error("not within 5 s");
  };
  await until(() => names!.nameOf("192.0.2.1") === "one.example.test");
  list = ["one.example.test", "two.example.test"];
  names.namesChanged();
  await until(() => names!.nameOf("192.0.2.2") === "two.example.test");
  list = ["two.example.test"];
  names.namesChanged();
  await until(() => names!.nameOf("192.0.2.1") === undefined);

  const bounded = new ExternalNames({ names: () => ["one.example.test", "two.example.test"], servers: [server.address], maxNames: 1 });
  await bounded.refresh();
  expect(bounded.nameOf("192.0.2.1")).toBe("one.example.test");
  expect(bounded.nameOf("192.0.2.2")).toBeUndefined();
  bounded.stop();
});

test("a change while a run is resolving the old set is resolved when that run ends", async () => {
  server = await startTestDnsServer({ "one.example.test": ["192.0.2.1"], "two.example.test": ["192.0.2.2"] });
  let list = ["one.example.test"];
  names = new ExternalNames({ names: () => list, servers: [server.address] });
  names.start(); // the first run is in flight
  list = ["one.example.test", "two.example.test"];
  names.namesChanged();
  await names.refresh(); // the first run's promise
  for (const end = Date.now() + 5000; names.nameOf("192.0.2.2") !== "two.example.test"; await Bun.sleep(20))
    if (Date.now() > end) throw new Error("the new name was not resolved after the run in flight ended");
  expect(names.nameOf("192.0.2.1")).toBe("one.example.test");
});
