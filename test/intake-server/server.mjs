#!/usr/bin/env node
// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test intake: service.resource.v1.IntakeService/Delta on grpc-js (Node, not Bun), with the
// original's TTL/heartbeat semantics, strict validation of every message, a record of everything
// received (with the fate of its stream), and failures on command. See README.md.
//
//   node test/intake-server/server.mjs --cert C --key K [--client-ca CA] [--api-key KEY] [--insecure]
//        [--port 0] [--host 127.0.0.1] [--raw-garbage] [--quiet]
// Prints one JSON line on stdout: {"port":P,"control":C}. Control is HTTP on 127.0.0.1:C.

import { randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, "../../proto");

const args = process.argv.slice(2);
const flag = (name, def = undefined) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  return v === undefined || v.startsWith("--") ? true : v;
};
const opts = {
  cert: flag("cert"),
  key: flag("key"),
  clientCa: flag("client-ca"),
  apiKey: flag("api-key") ?? null,
  insecure: flag("insecure") === true,
  port: Number(flag("port", "0")),
  /** Listen address: 127.0.0.1 by default; ::1 for the IPv6 tests. */
  host: String(flag("host", "127.0.0.1")),
  rawGarbage: flag("raw-garbage") === true,
  quiet: flag("quiet") === true,
  /** Append every record and stream outcome as JSON lines, so a test can read them across server restarts. */
  recordFile: flag("record-file"),
  /** Benchmarks: keep TTL state and counts but not the per-object record log. */
  noRecord: flag("no-record") === true,
  /** Like a cloud load balancer / grpc-go MaxConnectionAge: GOAWAY after this long, then a grace period. */
  maxConnectionAgeMs: flag("max-connection-age-ms") === undefined ? undefined : Number(flag("max-connection-age-ms")),
  maxConnectionAgeGraceMs: flag("max-connection-age-grace-ms") === undefined ? undefined : Number(flag("max-connection-age-grace-ms")),
};
const incarnation = randomBytes(4).toString("hex");
const persist = (obj) => {
  if (opts.recordFile) appendFileSync(opts.recordFile, JSON.stringify({ inc: incarnation, ...obj }) + "\n");
};
const logLine = (...a) => {
  if (!opts.quiet) console.error("[intake-server]", ...a);
};

// ---- protos -----------------------------------------------------------------------------------
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : path.join(protoDir, target));
root.loadSync(
  [
    "service/resource/v1/intake.proto",
    "resource/v1/resource.proto",
    "resource/v1/relationship.proto",
    "kubernetes/v1/cluster.proto",
    "kubernetes/v1/relationships.proto",
    "network/v1/relationships.proto",
    "antimetal/hardware/v1/hardware.proto",
  ],
  { keepCase: true },
);
const DeltaRequest = root.lookupType("service.resource.v1.DeltaRequest");
const Resource = root.lookupType("resource.v1.Resource");
const Relationship = root.lookupType("resource.v1.Relationship");

const OPS = ["CREATE", "UPDATE", "DELETE", "HEARTBEAT"];
const KINDS = { "resource.v1.Resource": Resource, "resource.v1.Relationship": Relationship };
const VERSION_RE = /^[0-9a-f]{8}$/;

// ---- state ------------------------------------------------------------------------------------
let streamSeq = 0;
let recordCount = 0;
let latencies = [];
/** Every object received, in arrival order: {stream, op, key, name, ...}. */
let records = [];
/** stream id -> "open" | "acked" | "failed:<CODE>" */
const streams = new Map();
/** TTL bookkeeping: key -> {deltaVersion, expiresAt, op, name, type, tags} */
const live = new Map();
let expired = [];
let heartbeats = [];
let invalidMessages = [];
const control = {
  failQueue: [], // {code, when: "start"|"end", details}
  stall: 0,
  huge: 0,
  hugeBytes: 16 << 20,
  garbage: 0,
  dropAfter: null, // messages until all sessions are destroyed
  dieAfter: null, // records received in all until the process SIGKILLs itself, inside a stream that carried some
  random: null, // {p, codes:[...], drop: p}
  poison: null, // RegExp on metadata.name
  pause: 0, // streams that stop reading after their first message (flow control fills; drain never comes)
};

function sweep(now = Date.now()) {
  for (const [key, v] of live) {
    if (v.expiresAt <= now) {
      live.delete(key);
      expired.push({ key, at: now, deltaVersion: v.deltaVersion });
    }
  }
}

function durationMs(d) {
  if (!d) return 0;
  const s = typeof d.seconds === "object" ? Number(d.seconds.toString()) : Number(d.seconds ?? 0);
  return s * 1000 + Number(d.nanos ?? 0) / 1e6;
}

function nsString(ns) {
  if (!ns) return "";
  if (ns.kube) return `kube:${ns.kube.cluster ?? ""}/${ns.kube.namespace ?? ""}`;
  if (ns.cloud) return `cloud:${ns.cloud.account?.account_id ?? ""}/${ns.cloud.region ?? ""}/${ns.cloud.group ?? ""}`;
  if (ns.host) return `host:${ns.host.host ?? ""}/${ns.host.container ?? ""}`;
  return "";
}

class Invalid extends Error {}

/** Validates one DeltaRequest strictly; returns the decoded objects. */
function validate(req) {
  if (req.client_id) throw new Invalid("client_id must be empty");
  if (!req.deltas || req.deltas.length === 0) throw new Invalid("DeltaRequest without deltas");
  const out = [];
  for (const d of req.deltas) {
    const op = d.op ?? 0;
    if (!(op in OPS)) throw new Invalid(`unknown op ${op}`);
    if (!d.objects || d.objects.length === 0) throw new Invalid("Delta without objects");
    for (const o of d.objects) {
      const ttl = durationMs(o.ttl);
      if (!(ttl > 0)) throw new Invalid("object without ttl");
      if (!VERSION_RE.test(o.delta_version ?? "")) throw new Invalid(`bad delta_version ${JSON.stringify(o.delta_version)}`);
      if (OPS[op] === "HEARTBEAT") {
        if (d.objects.length !== 1 || o.type || o.object) throw new Invalid("heartbeat must carry one bare object");
        out.push({ op: "HEARTBEAT", ttl, deltaVersion: o.delta_version });
        continue;
      }
      const kind = o.type?.kind;
      const type = o.type?.type;
      const T = KINDS[kind];
      if (!T) throw new Invalid(`bad kind ${JSON.stringify(kind)}`);
      if (!type) throw new Invalid("empty type");
      if (!o.object || o.object.type_url !== `type.googleapis.com/${kind}`) throw new Invalid(`bad type_url ${o.object?.type_url}`);
      let inner;
      try {
        inner = T.decode(o.object.value);
      } catch (e) {
        throw new Invalid(`payload does not decode as ${kind}: ${e.message}`);
      }
      const err = T.verify(inner);
      if (err) throw new Invalid(`payload invalid: ${err}`);
      let key, name, tags;
      if (kind === "resource.v1.Resource") {
        name = inner.metadata?.name ?? "";
        if (!name) throw new Invalid("resource without metadata.name");
        key = `${type}|${nsString(inner.metadata?.namespace)}|${name}`;
        tags = Object.fromEntries((inner.metadata?.tags ?? []).map((t) => [t.key, t.value]));
      } else {
        if (!inner.subject?.name || !inner.object?.name) throw new Invalid("relationship without subject/object");
        name = `${inner.subject.name}->${inner.object.name}`;
        key = `${type}|${inner.subject.type_url}|${nsString(inner.subject.namespace)}|${inner.subject.name}|${inner.object.type_url}|${nsString(inner.object.namespace)}|${inner.object.name}`;
        tags = {};
      }
      if (control.poison?.test(name)) throw new Invalid(`poison object ${name}`);
      out.push({ op: OPS[op], ttl, deltaVersion: o.delta_version, kind, type, key, name, tags, deleted: !!inner.metadata?.deleted_at });
    }
  }
  return out;
}

function apply(stream, objs) {
  const now = Date.now();
  sweep(now);
  for (const o of objs) {
    if (o.op === "HEARTBEAT") {
      heartbeats.push({ stream, at: now, deltaVersion: o.deltaVersion });
      for (const v of live.values()) if (v.deltaVersion === o.deltaVersion) v.expiresAt = now + o.ttl;
      continue;
    }
    const rec = {
      stream,
      at: now,
      op: o.op,
      key: o.key,
      name: o.name,
      type: o.type,
      kind: o.kind,
      tags: o.tags,
      deltaVersion: o.deltaVersion,
    };
    recordCount++;
    // objects tagged t=<ms since epoch at write> give the write-to-intake latency (same host clock)
    if (o.tags.t !== undefined && latencies.length < 2_000_000) latencies.push(now - Number(o.tags.t));
    if (!opts.noRecord) records.push(rec);
    persist({ t: "rec", ...rec });
    if (o.op === "DELETE" || o.deleted) live.delete(o.key);
    else live.set(o.key, { deltaVersion: o.deltaVersion, expiresAt: now + o.ttl, name: o.name, type: o.type, tags: o.tags, op: o.op });
  }
}

function dropSessions() {
  const sessions = server.sessions; // grpc-js private Map<Http2Session, info>
  let n = 0;
  if (sessions) {
    for (const s of sessions.keys()) {
      s.destroy();
      n++;
    }
  }
  logLine(`dropped ${n} sessions`);
  return n;
}

// ---- gRPC -------------------------------------------------------------------------------------
const service = {
  Delta: {
    path: "/service.resource.v1.IntakeService/Delta",
    requestStream: true,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(DeltaRequest.encode(m).finish()),
    requestDeserialize: (b) => DeltaRequest.decode(b),
    responseSerialize: (v) => (Buffer.isBuffer(v) ? v : Buffer.alloc(0)),
    responseDeserialize: (b) => b,
  },
};

function handleDelta(call, callback) {
  const id = ++streamSeq;
  streams.set(id, "open");
  let finished = false;
  const finish = (err, value) => {
    if (finished) return;
    finished = true;
    streams.set(id, err ? `failed:${grpc.status[err.code] ?? err.code}` : "acked");
    persist({ t: "stream", stream: id, status: streams.get(id) });
    callback(err, value);
  };
  const fail = (code, details) => finish({ code, details });

  if (opts.apiKey !== null) {
    const auth = call.metadata.get("authorization")[0];
    if (auth !== `bearer ${opts.apiKey}`) return fail(grpc.status.UNAUTHENTICATED, "invalid api key");
  }
  const plan = control.failQueue.shift();
  let stall = false;
  if (control.stall > 0) {
    control.stall--;
    stall = true;
  }
  let pause = false;
  if (control.pause > 0) {
    control.pause--;
    pause = true;
  }
  let random = null;
  if (control.random && Math.random() < control.random.p) {
    const r = control.random;
    const pick = r.codes[Math.floor(Math.random() * r.codes.length)];
    random = {
      code: typeof pick === "string" ? (grpc.status[pick] ?? pick) : pick,
      when: r.when ?? (Math.random() < 0.5 ? "start" : "end"),
      drop: pick === "DROP",
    };
  }
  let invalid = null;
  let streamRecords = 0;
  call.on("data", (req) => {
    if (finished || invalid) return;
    if (pause) return void call.pause();
    if (plan && plan.when === "start") return fail(plan.code, plan.details ?? "injected failure");
    if (random && random.when === "start") {
      if (random.drop) {
        finished = true;
        streams.set(id, "failed:DROP");
        dropSessions();
        return;
      }
      return fail(random.code, "injected random failure");
    }
    const before = recordCount;
    try {
      apply(id, validate(req));
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      invalid = e.message;
      invalidMessages.push({ stream: id, reason: e.message });
      logLine(`stream ${id} invalid: ${e.message}`);
      return fail(grpc.status.INVALID_ARGUMENT, e.message);
    }
    streamRecords += recordCount - before;
    // Killed mid-stream for certain: this stream is open, has records on file and no answer yet.
    if (control.dieAfter !== null && recordCount >= control.dieAfter && streamRecords > 0) process.kill(process.pid, "SIGKILL");
    if (control.dropAfter !== null && --control.dropAfter <= 0) {
      control.dropAfter = null;
      finished = true;
      streams.set(id, "failed:DROP");
      dropSessions();
    }
  });
  call.on("end", () => {
    if (finished) return;
    if (stall) return; // never answer; the client's watchdog must give up
    if (plan) return fail(plan.code, plan.details ?? "injected failure");
    if (random) {
      if (random.drop) {
        finished = true;
        streams.set(id, "failed:DROP");
        dropSessions();
        return;
      }
      return fail(random.code, "injected random failure");
    }
    if (control.huge > 0) {
      control.huge--;
      return finish(null, Buffer.alloc(control.hugeBytes, 0));
    }
    if (control.garbage > 0) {
      control.garbage--;
      return finish(null, Buffer.concat([Buffer.from([0x07]), randomBytes(64)]));
    }
    finish(null, Buffer.alloc(0));
  });
  call.on("error", () => finish({ code: grpc.status.CANCELLED, details: "client error" }));
  call.on("cancelled", () => {
    if (finished) return;
    finished = true;
    streams.set(id, "failed:CANCELLED");
  });
}

const server = new grpc.Server({
  "grpc.max_receive_message_length": 4 << 20,
  ...(opts.maxConnectionAgeMs !== undefined ? { "grpc.max_connection_age_ms": opts.maxConnectionAgeMs } : {}),
  ...(opts.maxConnectionAgeGraceMs !== undefined ? { "grpc.max_connection_age_grace_ms": opts.maxConnectionAgeGraceMs } : {}),
});
server.addService(service, { Delta: handleDelta });

function credentials() {
  if (opts.insecure) return grpc.ServerCredentials.createInsecure();
  const ca = opts.clientCa ? readFileSync(opts.clientCa) : null;
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: readFileSync(opts.cert), private_key: readFileSync(opts.key) }], !!ca);
}

// ---- control ----------------------------------------------------------------------------------
function state() {
  sweep();
  const counts = { total: streams.size, acked: 0, failed: 0, open: 0 };
  for (const s of streams.values()) counts[s === "acked" ? "acked" : s === "open" ? "open" : "failed"]++;
  return {
    streams: counts,
    records: recordCount,
    latencyMs: latencyStats(),
    heartbeats: heartbeats.length,
    lastHeartbeat: heartbeats.at(-1) ?? null,
    invalid: invalidMessages.length,
    expired: expired.length,
    live: [...live.entries()].map(([key, v]) => ({
      key,
      name: v.name,
      deltaVersion: v.deltaVersion,
      tags: v.tags,
      expiresInMs: v.expiresAt - Date.now(),
    })),
  };
}

function latencyStats() {
  if (latencies.length === 0) return null;
  const xs = Float64Array.from(latencies).sort();
  const q = (p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  return { n: xs.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: xs[xs.length - 1] };
}

function command(c) {
  if (c.fail)
    for (let i = 0; i < (c.fail.count ?? 1); i++)
      control.failQueue.push({
        code: typeof c.fail.code === "string" ? grpc.status[c.fail.code] : c.fail.code,
        when: c.fail.when ?? "end",
        details: c.fail.details,
      });
  if (c.stall !== undefined) control.stall = c.stall;
  if (c.pause !== undefined) control.pause = c.pause;
  if (c.huge !== undefined) {
    control.huge = c.huge;
    control.hugeBytes = c.hugeBytes ?? control.hugeBytes;
  }
  if (c.garbage !== undefined) control.garbage = c.garbage;
  if (c.dropAfter !== undefined) control.dropAfter = c.dropAfter;
  if (c.dieAfter !== undefined) control.dieAfter = c.dieAfter;
  if (c.drop) dropSessions();
  if (c.apiKey !== undefined) opts.apiKey = c.apiKey;
  if (c.random !== undefined) control.random = c.random;
  if (c.poison !== undefined) control.poison = c.poison === null ? null : new RegExp(c.poison);
  if (c.clear) control.failQueue = [];
  if (c.reset) {
    records = [];
    recordCount = 0;
    latencies = [];
    heartbeats = [];
    expired = [];
    invalidMessages = [];
    live.clear();
    streams.clear();
  }
  return { ok: true };
}

const controlServer = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    try {
      const url = new URL(req.url, "http://x");
      let out;
      if (req.method === "POST" && url.pathname === "/cmd") out = command(JSON.parse(body || "{}"));
      else if (url.pathname === "/state") out = state();
      else if (url.pathname === "/records") {
        const since = Number(url.searchParams.get("since") ?? 0);
        out = { records: records.slice(since), streams: Object.fromEntries(streams), invalid: invalidMessages, expired };
      } else if (url.pathname === "/heartbeats") out = { heartbeats };
      else {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out));
    } catch (e) {
      res.writeHead(400);
      res.end(String(e?.message ?? e));
    }
  });
});

function listenControl() {
  return new Promise((resolve) => controlServer.listen(0, "127.0.0.1", () => resolve(controlServer.address().port)));
}

async function main() {
  const controlPort = await listenControl();
  let port;
  if (opts.rawGarbage) {
    // A hostile peer: completes TLS with ALPN h2, then writes random bytes instead of HTTP/2 frames.
    const raw = tls.createServer({ cert: readFileSync(opts.cert), key: readFileSync(opts.key), ALPNProtocols: ["h2"] }, (sock) => {
      sock.on("error", () => {});
      const t = setInterval(() => sock.write(randomBytes(4096)), 5);
      sock.on("close", () => clearInterval(t));
      setTimeout(() => sock.destroy(), 2000);
    });
    port = await new Promise((resolve) => raw.listen(opts.port, opts.host, () => resolve(raw.address().port)));
  } else {
    port = await new Promise((resolve, reject) =>
      server.bindAsync(opts.host.includes(":") ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`, credentials(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  }
  process.stdout.write(JSON.stringify({ port, control: controlPort }) + "\n");
  logLine(`listening on ${opts.host}:${port} (${opts.insecure ? "plaintext" : "TLS"}), control on ${controlPort}`);
}

process.on("SIGTERM", () => process.exit(0));
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
