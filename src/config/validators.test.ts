// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The option value types: duration ranges, booleans, intake address and API key rules.

import { describe, expect, test } from "bun:test";
import { apiKeyProblem } from "../util/api-key.ts";
import { isDurationOption, OPTIONS, type OptionSpec } from "./schema.ts";
import { bool, durationIn, durationRange, intakeAddressProblem } from "./validators.ts";

describe("durations have a range", () => {
  const schema = durationIn("1s", "24h");
  test("inside the range, both ends included", () => {
    expect(schema.parse("1s")).toBe(1000);
    expect(schema.parse("24h")).toBe(86_400_000);
    expect(schema.parse("10m")).toBe(600_000);
  });
  test("1ns, 0 and 600h are refused with the range in the message", () => {
    for (const bad of ["1ns", "0", "999ms", "600h", "24h1s", "99999999999999999999h"]) {
      const r = schema.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.message).toBe(`must be between 1s and 24h, got ${JSON.stringify(bad)}`);
    }
  });
  test("every duration option is bounded below a timer's 2^31-1 ms, and above zero", () => {
    const durations = Object.values(OPTIONS).filter((o) => isDurationOption(o as OptionSpec));
    expect(durations.length).toBeGreaterThanOrEqual(6);
    for (const o of durations) {
      const range = durationRange((o as OptionSpec).schema)!;
      expect(range.minMs).toBeGreaterThan(0);
      expect(range.maxMs).toBeLessThan(2 ** 31 - 1);
      expect((o as OptionSpec).schema.safeParse((o as OptionSpec).default).success).toBe(true);
    }
  });
});

test("booleans: an empty value is an error, not true", () => {
  expect(bool.parse("yes")).toBe(true);
  expect(bool.parse("0")).toBe(false);
  const r = bool.safeParse("");
  expect(r.success).toBe(false);
  expect(r.error!.issues[0]!.message).toBe("must be true or false, got an empty value");
});

describe("intake address: host:port, port 1-65535, IPv6 in brackets, no scheme", () => {
  for (const good of [
    "",
    "intake.antimetal.com:443",
    "localhost:50051",
    "127.0.0.1:1",
    "[::1]:443",
    "[2001:db8::1]:65535",
    "host_name.local.:8443",
  ]) {
    test(`accepts ${JSON.stringify(good)}`, () => expect(intakeAddressProblem(good)).toBeUndefined());
  }
  const bad: Array<[string, string]> = [
    ["https://intake.antimetal.com:443", "must not have a scheme"],
    ["dns:///intake.antimetal.com:443", "must not have a scheme"],
    ["intake.antimetal.com", "the port is required"],
    ["intake.antimetal.com:0", "the port must be a number from 1 to 65535"],
    ["intake.antimetal.com:65536", "the port must be a number from 1 to 65535"],
    ["intake.antimetal.com:https", "the port must be a number from 1 to 65535"],
    ["::1:443", "an IPv6 address must be in brackets"],
    ["[::1:443", "an IPv6 address must be a valid address in brackets"],
    ["[zz::1]:443", "an IPv6 address must be a valid address in brackets"],
    [":443", "the host must be a DNS name or an IP address"],
    ["in take:443", "the host must be a DNS name or an IP address"],
  ];
  for (const [address, reason] of bad)
    test(`refuses ${JSON.stringify(address)}`, () => expect(intakeAddressProblem(address)).toContain(reason));
});

describe("API key: what a header can carry, and the reason never shows the key", () => {
  test("printable ASCII is fine", () => expect(apiKeyProblem("am_Zx9-._~+/=:!@ key")).toBeUndefined());
  for (const [name, key] of [
    ["newline", "s3cr3t-value\n"],
    ["tab", "s3cr3t\tvalue"],
    ["DEL", "s3cr3t\x7fvalue"],
    ["non-ASCII", "s3cr3t-välue"],
  ] as const) {
    test(name, () => {
      const problem = apiKeyProblem(key)!;
      expect(problem).toContain("which a request header cannot carry");
      expect(problem).not.toContain("s3cr3t");
      expect(problem).not.toContain("value");
    });
  }
});
