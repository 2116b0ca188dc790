// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of MetricsAuthenticator with a recording review client: status codes and messages,
// the review bodies sent, TTLs per outcome, the entry cap, shared in-flight reviews, and retries on
// retryable failures only. The real apiserver is exercised in test/secure-metrics/.

import { describe, expect, test } from "bun:test";
import { makeLogger } from "../cli/context.ts";
import { bearerToken, MetricsAuthenticator, type ReviewClient } from "./metrics-auth.ts";

const logger = makeLogger({ logLevel: "silent", logFormat: "json" } as never);

interface Call {
  path: string;
  body: Record<string, any>;
}

function fakeClient(
  opts: { users?: Record<string, string>; allowed?: Set<string>; fail?: () => Error | undefined; delayMs?: number } = {},
) {
  const calls: Call[] = [];
  const client: ReviewClient = {
    async sendJSON<T>(_method: string, p: string, body: unknown): Promise<T> {
      calls.push({ path: p, body: body as Record<string, any> });
      if (opts.delayMs) await Bun.sleep(opts.delayMs);
      const err = opts.fail?.();
      if (err) throw err;
      const b = body as Record<string, any>;
      if (p.endsWith("/tokenreviews")) {
        const name = opts.users?.[b.spec.token];
        return { status: name ? { authenticated: true, user: { username: name, groups: ["g"] } } : { authenticated: false } } as T;
      }
      return { status: { allowed: opts.allowed?.has(b.spec.user) ?? false, reason: "rbac" } } as T;
    },
  };
  return { client, calls };
}

const req = (token?: string, path = "/metrics", method = "GET") =>
  new Request(`https://agent${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe("MetricsAuthenticator", () => {
  test("401 without or with a rejected token, 403 when not allowed, through when allowed; the SAR names verb and path", async () => {
    const { client, calls } = fakeClient({ users: { good: "alice", other: "bob" }, allowed: new Set(["alice"]) });
    const auth = new MetricsAuthenticator({ client, logger });
    expect((await auth.check(req()))!.status).toBe(401);
    expect(await (await auth.check(req("bad")))!.text()).toBe("Unauthorized\n");
    const denied = (await auth.check(req("other")))!;
    expect(denied.status).toBe(403);
    expect(await denied.text()).toBe("Authorization denied for user bob\n");
    expect(await auth.check(req("good"))).toBeUndefined();
    const sar = calls.find((c) => c.path.endsWith("/subjectaccessreviews") && c.body.spec.user === "alice")!;
    expect(sar.body).toEqual({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user: "alice", uid: undefined, groups: ["g"], extra: undefined, nonResourceAttributes: { path: "/metrics", verb: "get" } },
    });
    expect(calls.find((c) => c.path.endsWith("/tokenreviews"))!.body).toEqual({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token: "bad" },
    });
  });

  test("decisions are cached per outcome TTL: token 1 min, allowed 5 min, denied 30 s", async () => {
    let now = 0;
    const { client, calls } = fakeClient({ users: { good: "alice", other: "bob" }, allowed: new Set(["alice"]) });
    const auth = new MetricsAuthenticator({ client, logger, now: () => now });
    const count = (kind: string) => calls.filter((c) => c.path.endsWith(kind)).length;
    await auth.check(req("good"));
    await auth.check(req("other"));
    await auth.check(req("good"));
    await auth.check(req("other"));
    expect([count("tokenreviews"), count("subjectaccessreviews")]).toEqual([2, 2]);
    now = 31_000; // denied verdict expired, tokens and the allowed verdict not
    await auth.check(req("good"));
    await auth.check(req("other"));
    expect([count("tokenreviews"), count("subjectaccessreviews")]).toEqual([2, 3]);
    now = 61_000; // tokens expired
    await auth.check(req("good"));
    expect([count("tokenreviews"), count("subjectaccessreviews")]).toEqual([3, 3]);
    now = 301_000; // allowed verdict expired
    await auth.check(req("good"));
    expect([count("tokenreviews"), count("subjectaccessreviews")]).toEqual([4, 4]);
  });

  test("the cache holds at most maxEntries; the oldest goes first", async () => {
    const users = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`t${i}`, `u${i}`]));
    const { client, calls } = fakeClient({ users, allowed: new Set(Object.values(users)) });
    const auth = new MetricsAuthenticator({ client, logger, maxEntries: 3 });
    for (let i = 0; i < 5; i++) await auth.check(req(`t${i}`));
    const before = calls.length;
    await auth.check(req("t4")); // still cached
    expect(calls.length).toBe(before);
    await auth.check(req("t0")); // evicted: reviewed again
    expect(calls.length).toBe(before + 2);
  });

  test("concurrent requests with one token share one TokenReview and one SubjectAccessReview", async () => {
    const { client, calls } = fakeClient({ users: { good: "alice" }, allowed: new Set(["alice"]), delayMs: 20 });
    const auth = new MetricsAuthenticator({ client, logger });
    const out = await Promise.all(Array.from({ length: 50 }, () => auth.check(req("good"))));
    expect(out.every((r) => r === undefined)).toBe(true);
    expect(calls.length).toBe(2);
  });

  test("network errors and 5xx are retried; a failing TokenReview is 401, a failing SubjectAccessReview 500; 4xx is not retried", async () => {
    let failures = 1;
    const { client, calls } = fakeClient({
      users: { good: "alice" },
      allowed: new Set(["alice"]),
      fail: () => (failures-- > 0 ? Object.assign(new Error("503"), { status: 503 }) : undefined),
    });
    const auth = new MetricsAuthenticator({ client, logger });
    expect(await auth.check(req("good"))).toBeUndefined();
    expect(calls.length).toBe(3); // one retry, then the SAR

    const forbidden = fakeClient({ fail: () => Object.assign(new Error("403: cannot create tokenreviews"), { status: 403 }) });
    const a2 = new MetricsAuthenticator({ client: forbidden.client, logger });
    const r = (await a2.check(req("x")))!;
    expect([r.status, await r.text()]).toEqual([401, "Authentication failed\n"]);
    expect(forbidden.calls.length).toBe(1);

    let n = 0;
    const sarFails = fakeClient({
      users: { good: "alice" },
      fail: () => (n++ === 0 ? undefined : Object.assign(new Error("403: cannot create subjectaccessreviews"), { status: 403 })),
    });
    const a3 = new MetricsAuthenticator({ client: sarFails.client, logger });
    const r3 = (await a3.check(req("good")))!;
    expect([r3.status, await r3.text()]).toEqual([500, "Authorization for user alice failed\n"]);
  });

  test("bearerToken reads the header as Kubernetes does", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc ")).toBe("abc");
    expect(bearerToken("Bearer")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
  });
});
