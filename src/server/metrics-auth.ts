// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Kubernetes authentication and authorization of /metrics requests (--metrics-secure), as
 * controller-runtime's filters.WithAuthenticationAndAuthorization: the bearer token is checked with a
 * TokenReview, then the user is authorized with a SubjectAccessReview for the request's verb on its
 * non-resource path (get /metrics). 401 without a token or with one the cluster rejects, 403 when the
 * user may not, 500 when the authorizer fails. Decisions are cached as there (tokens 1 min, allowed
 * 5 min, denied 30 s) in a bounded, metered cache, and concurrent identical reviews share one call, so
 * a scrape storm costs the apiserver one review per token and TTL.
 */

import * as crypto from "node:crypto";
import { Counter } from "prom-client";
import type { Logger } from "../log/logger.ts";
import { meterBound, registry } from "../metrics/registry.ts";
import { errorMessage } from "../util/errors.ts";
import { sleep } from "../util/sleep.ts";

/** The part of src/kube/client's KubeClient this needs. */
export interface ReviewClient {
  sendJSON<T = unknown>(method: string, p: string, body: unknown, signal?: AbortSignal): Promise<T>;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface MetricsAuthOptions {
  client: ReviewClient;
  logger: Logger;
  tokenTtlMs?: number;
  allowTtlMs?: number;
  denyTtlMs?: number;
  /** Entries per cache (tokens, decisions) and concurrent reviews in flight. */
  maxEntries?: number;
  /** Budget of one review, retries included (controller-runtime: 10 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** The authenticator's counters, registered when the first one is built (an agent without --metrics-secure shows none). */
let counters: { decisions: Counter<"decision">; reviews: Counter<"review" | "result">; cacheHits: Counter<"review"> } | undefined;
function metrics() {
  counters ??= {
    decisions: new Counter({
      name: "antimetal_metrics_auth_decisions_total",
      help: "Requests to the secure /metrics listener by outcome (allowed, unauthenticated, forbidden, error, overloaded).",
      labelNames: ["decision"] as const,
      registers: [registry],
    }),
    reviews: new Counter({
      name: "antimetal_metrics_auth_reviews_total",
      help: "TokenReview and SubjectAccessReview calls to the apiserver, by review and result (ok, error); cache hits make none.",
      labelNames: ["review", "result"] as const,
      registers: [registry],
    }),
    cacheHits: new Counter({
      name: "antimetal_metrics_auth_cache_hits_total",
      help: "Secure /metrics requests answered from the authentication or authorization cache, by review.",
      labelNames: ["review"] as const,
      registers: [registry],
    }),
  };
  return counters;
}

/** A TTL cache with an entry cap (oldest evicted first), its depth and evictions on antimetal_queue_*. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly meter;

  constructor(
    name: string,
    private readonly cap: number,
    private readonly now: () => number,
  ) {
    this.meter = meterBound(name, cap);
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires > this.now()) return e.value;
    this.entries.delete(key);
    this.meter.depth(this.entries.size);
    return undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    while (this.entries.size >= this.cap) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.meter.dropped("evicted");
    }
    this.entries.set(key, { value, expires: this.now() + ttlMs });
    this.meter.depth(this.entries.size);
  }
}

class Overloaded extends Error {}

const text = (body: string, status: number, extra: Record<string, string> = {}) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff", ...extra } });

/** The bearer token of an Authorization header, as Kubernetes' bearertoken authenticator reads it. */
export function bearerToken(header: string | null): string | undefined {
  if (!header) return undefined;
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== "bearer" || parts[1] === "") return undefined;
  return parts[1];
}

const RETRYABLE = (e: unknown) => {
  const status = (e as { status?: number }).status;
  return status === undefined || status === 429 || status >= 500;
};

export class MetricsAuthenticator {
  private readonly tokens: TtlCache<UserInfo | null>;
  private readonly verdicts: TtlCache<{ allowed: boolean; reason: string }>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly inflightMeter;
  private readonly o: Required<Omit<MetricsAuthOptions, "client" | "logger">>;
  private readonly log: Logger;
  private readonly m = metrics();

  constructor(private readonly opts: MetricsAuthOptions) {
    this.o = {
      tokenTtlMs: opts.tokenTtlMs ?? 60_000,
      allowTtlMs: opts.allowTtlMs ?? 300_000,
      denyTtlMs: opts.denyTtlMs ?? 30_000,
      maxEntries: opts.maxEntries ?? 1024,
      timeoutMs: opts.timeoutMs ?? 10_000,
      now: opts.now ?? Date.now,
    };
    this.log = opts.logger.child({ component: "metrics-auth" });
    this.tokens = new TtlCache("metrics_auth_tokens", this.o.maxEntries, this.o.now);
    this.verdicts = new TtlCache("metrics_auth_decisions", this.o.maxEntries, this.o.now);
    this.inflightMeter = meterBound("metrics_auth_inflight", this.o.maxEntries);
  }

  /** undefined lets the request through; otherwise the refusal to send. */
  async check(req: Request): Promise<Response | undefined> {
    const token = bearerToken(req.headers.get("authorization"));
    if (!token) {
      this.m.decisions.inc({ decision: "unauthenticated" });
      return text("Unauthorized\n", 401);
    }
    let user: UserInfo | null;
    try {
      user = await this.authenticate(token);
    } catch (e) {
      if (e instanceof Overloaded) return this.overloaded();
      this.m.decisions.inc({ decision: "error" });
      this.log.error({ err: errorMessage(e) }, "Authentication failed");
      return text("Authentication failed\n", 401);
    }
    if (!user) {
      this.m.decisions.inc({ decision: "unauthenticated" });
      return text("Unauthorized\n", 401);
    }
    const verb = req.method.toLowerCase();
    const path = new URL(req.url).pathname;
    let verdict: { allowed: boolean; reason: string };
    try {
      verdict = await this.authorize(user, verb, path);
    } catch (e) {
      if (e instanceof Overloaded) return this.overloaded();
      this.m.decisions.inc({ decision: "error" });
      const msg = `Authorization for user ${user.username} failed`;
      this.log.error({ err: errorMessage(e), user: user.username }, msg);
      return text(`${msg}\n`, 500);
    }
    if (!verdict.allowed) {
      this.m.decisions.inc({ decision: "forbidden" });
      const msg = `Authorization denied for user ${user.username}`;
      this.log.debug({ user: user.username, verb, path, reason: verdict.reason }, msg);
      return text(`${msg}\n`, 403);
    }
    this.m.decisions.inc({ decision: "allowed" });
    return undefined;
  }

  private overloaded(): Response {
    this.m.decisions.inc({ decision: "overloaded" });
    return text("too many reviews in flight\n", 503, { "retry-after": "1" });
  }

  private async authenticate(token: string): Promise<UserInfo | null> {
    const key = crypto.createHash("sha256").update(token).digest("base64");
    const cached = this.tokens.get(key);
    if (cached !== undefined) {
      this.m.cacheHits.inc({ review: "tokenreview" });
      return cached;
    }
    return this.once(`t:${key}`, "tokenreview", async (signal) => {
      const res = await this.opts.client.sendJSON<{ status?: { authenticated?: boolean; user?: UserInfo; error?: string } }>(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
        signal,
      );
      const user = res.status?.authenticated && res.status.user?.username ? res.status.user : null;
      this.tokens.set(key, user, this.o.tokenTtlMs);
      return user;
    });
  }

  private async authorize(user: UserInfo, verb: string, path: string): Promise<{ allowed: boolean; reason: string }> {
    const key = JSON.stringify([user.username, user.uid ?? "", user.groups ?? [], user.extra ?? {}, verb, path]);
    const cached = this.verdicts.get(key);
    if (cached) {
      this.m.cacheHits.inc({ review: "subjectaccessreview" });
      return cached;
    }
    return this.once(`s:${key}`, "subjectaccessreview", async (signal) => {
      const res = await this.opts.client.sendJSON<{ status?: { allowed?: boolean; reason?: string; evaluationError?: string } }>(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
        },
        signal,
      );
      const verdict = { allowed: res.status?.allowed === true, reason: res.status?.reason ?? res.status?.evaluationError ?? "" };
      this.verdicts.set(key, verdict, verdict.allowed ? this.o.allowTtlMs : this.o.denyTtlMs);
      return verdict;
    });
  }

  /** One call per key at a time (concurrent callers share it), retried on network errors, 429 and 5xx within the budget. */
  private once<T>(key: string, review: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const pending = this.inflight.get(key);
    if (pending) return pending as Promise<T>;
    if (this.inflight.size >= this.o.maxEntries) return Promise.reject(new Overloaded());
    const signal = AbortSignal.timeout(this.o.timeoutMs);
    const run = async (): Promise<T> => {
      for (let attempt = 0, delay = 500; ; attempt++, delay *= 1.5) {
        try {
          const out = await call(signal);
          this.m.reviews.inc({ review, result: "ok" });
          return out;
        } catch (e) {
          this.m.reviews.inc({ review, result: "error" });
          if (attempt >= 4 || signal.aborted || !RETRYABLE(e)) throw e;
          await sleep(delay, signal);
        }
      }
    };
    const p = run().finally(() => {
      this.inflight.delete(key);
      this.inflightMeter.depth(this.inflight.size);
    });
    this.inflight.set(key, p);
    this.inflightMeter.depth(this.inflight.size);
    return p;
  }
}
