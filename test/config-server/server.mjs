#!/usr/bin/env node
// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Test config service: antimetal.service.agent.v1.AgentManagementService/WatchConfig on grpc-js
// (Node, not Bun). It checks every field of every request it receives (a violation fails the
// stream with INVALID_ARGUMENT and is recorded), sends the responses it is told to, one at a time,
// each after the previous one was answered, and records everything.
//
//   node test/config-server/server.mjs --cert C --key K [--api-key KEY] [--port 0] --collectors a,b,...
// Prints one JSON line on stdout: {"port":P,"control":C}. Control is HTTP on 127.0.0.1:C:
//   POST /push   {"configs":[{name, collector, interval_seconds, version, ttl_seconds?, type?, data_b64?}]} queue one response
//   POST /cmd    {"end": "UNAVAILABLE"}  end every open stream with that status
//   GET  /state  streams, initials, answers, violations

import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = path.resolve(here, "../../proto");
const args = process.argv.slice(2);
const flag = (name, def = undefined) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? def : args[i + 1];
};
const opts = { cert: flag("cert"), key: flag("key"), apiKey: flag("api-key") ?? null, port: Number(flag("port", "0")) };

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : path.join(protoDir, target));
root.loadSync(["antimetal/service/agent/v1/agent.proto", "antimetal/agent/v1/config.proto"], { keepCase: true });
const Request = root.lookupType("antimetal.service.agent.v1.WatchConfigRequest");
const Response = root.lookupType("antimetal.service.agent.v1.WatchConfigResponse");
const HostStats = root.lookupType("antimetal.agent.v1.HostStatsCollectionConfig");
const ConfigError = root.lookupType("antimetal.agent.v1.ConfigError");

// The agent's collector names (metric types), passed by the test from the agent's METRIC_TYPES.
const KNOWN_COLLECTORS = new Set((flag("collectors") ?? "").split(",").filter(Boolean));
if (KNOWN_COLLECTORS.size === 0) throw new Error("--collectors is required (the agent's metric types)");
const HOST_STATS = "antimetal.agent.v1.HostStatsCollectionConfig";
const INITIAL = 0;
const ACK = 1;
const NACK = 2;

let streamSeq = 0;
let seq = 0;
/** Responses waiting to be sent (to whichever stream is open). */
const queue = [];
const state = { streams: [], initials: [], answers: [], violations: [], instanceIds: [] };
const open = new Map(); // id -> {call, pending: seqNum | null, instanceId}

class Violation extends Error {}
const need = (ok, what) => {
  if (!ok) throw new Violation(what);
};
const hex = (b) => Buffer.from(b ?? []).toString("hex");

function checkInstance(inst) {
  need(inst, "instance missing");
  const id = Buffer.from(inst.id ?? []);
  need(id.length === 16, `instance.id must be 16 bytes, got ${id.length}`);
  need(id[6] >> 4 === 7, "instance.id is not a UUIDv7 (version nibble)");
  need(id[8] >> 6 === 2, "instance.id has not the RFC 9562 variant");
  const ms = id.readUIntBE(0, 6);
  need(Math.abs(Date.now() - ms) < 3600_000, "instance.id timestamp is not now");
  const v = inst.build?.version;
  need(v && [v.major, v.minor, v.patch].every((n) => n === undefined || Number.isInteger(n)), "build.version missing");
  need((v.major ?? 0) + (v.minor ?? 0) + (v.patch ?? 0) > 0, "build.version is 0.0.0");
  need(typeof inst.build.revision === "string" && inst.build.revision.length > 0, "build.revision empty");
  const linux = inst.linux_runtime;
  need(linux && /^\d+\.\d+/.test(linux.kernel_version ?? ""), `linux_runtime.kernel_version ${JSON.stringify(linux?.kernel_version)}`);
  need(
    linux.cgroup_info && [0, 1, 2].includes(linux.cgroup_info.version ?? 0) && [0, 1].includes(linux.cgroup_info.driver ?? 0),
    "linux_runtime.cgroup_info",
  );
  const cs = inst.supported_collectors ?? [];
  need(cs.length > 0, "supported_collectors empty");
  need(new Set(cs).size === cs.length, "supported_collectors has duplicates");
  for (const c of cs) need(KNOWN_COLLECTORS.has(c), `supported_collectors names ${c}`);
}

function checkObject(o, where) {
  need(o.type?.type === HOST_STATS, `${where}: type.type ${o.type?.type}`);
  need(!o.type.kind, `${where}: type.kind must be empty`);
  need(o.name, `${where}: name empty`);
  need(o.version, `${where}: version empty`);
  need(!o.ttl, `${where}: ttl must not be replayed`);
  const cfg = HostStats.decode(o.data);
  need(KNOWN_COLLECTORS.has(cfg.collector), `${where}: collector ${cfg.collector}`);
}

function checkRequest(s, req) {
  checkInstance(req.instance);
  const id = hex(req.instance.id);
  if (s.instanceId === undefined) {
    need((req.type ?? 0) === INITIAL, "first message must be INITIAL");
    need(!req.response_seq_num, "INITIAL with response_seq_num");
    need(!req.error_detail, "INITIAL with error_detail");
    for (const [i, o] of (req.initial_configs ?? []).entries()) checkObject(o, `initial_configs[${i}]`);
    s.instanceId = id;
    state.instanceIds.push(id);
    state.initials.push({ stream: s.id, names: (req.initial_configs ?? []).map((o) => `${o.name}@${o.version}`) });
    return;
  }
  need(id === s.instanceId, "instance.id changed within a stream");
  need(req.type === ACK || req.type === NACK, `unexpected type ${req.type}`);
  need((req.initial_configs ?? []).length === 0, "initial_configs outside INITIAL");
  need(s.pending !== null, "an answer without an outstanding response");
  need(req.response_seq_num === s.pending, `response_seq_num ${req.response_seq_num} answers ${s.pending}`);
  const answer = { stream: s.id, seq: req.response_seq_num, type: req.type === ACK ? "ACK" : "NACK", errors: [] };
  if (req.type === ACK) need(!req.error_detail, "ACK with error_detail");
  else {
    const st = req.error_detail;
    need(st && st.code === 3, `NACK error_detail.code ${st?.code}`);
    need(st.message, "NACK error_detail.message empty");
    need((st.details ?? []).length > 0, "NACK without details");
    for (const d of st.details) {
      need(d.type_url === "type.googleapis.com/antimetal.agent.v1.ConfigError", `detail type_url ${d.type_url}`);
      const ce = ConfigError.decode(d.value);
      need(ce.config_ref?.name && ce.reason, "ConfigError without config_ref.name or reason");
      answer.errors.push({ type: ce.config_ref.type?.type ?? "", name: ce.config_ref.name, reason: ce.reason });
    }
    need(st.message === answer.errors[0].reason, "error_detail.message is not the first reason");
  }
  state.answers.push(answer);
  s.pending = null;
}

function sendNext() {
  for (const s of open.values()) {
    if (s.instanceId === undefined || s.pending !== null || queue.length === 0) continue;
    const configs = queue.shift();
    const seqNum = String(++seq);
    s.pending = seqNum;
    s.call.write(Response.create({ configs, seq_num: seqNum }));
  }
}

function handle(call) {
  const s = { id: ++streamSeq, call, pending: null, instanceId: undefined, ended: false };
  const rec = { id: s.id, status: "open", authorized: true };
  state.streams.push(rec);
  if (opts.apiKey !== null && call.metadata.get("authorization")[0] !== `bearer ${opts.apiKey}`) {
    rec.status = "UNAUTHENTICATED";
    rec.authorized = false;
    return call.emit("error", { code: grpc.status.UNAUTHENTICATED, details: "invalid api key" });
  }
  open.set(s.id, s);
  const close = (status) => {
    if (s.ended) return;
    s.ended = true;
    rec.status = status;
    open.delete(s.id);
  };
  call.on("data", (req) => {
    if (s.ended) return;
    try {
      checkRequest(s, req);
    } catch (e) {
      if (!(e instanceof Violation)) throw e;
      state.violations.push({ stream: s.id, violation: e.message });
      close("violation");
      return call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: e.message });
    }
    sendNext();
  });
  call.on("end", () => {
    close("client-ended");
    call.end();
  });
  call.on("error", () => close("error"));
  call.on("cancelled", () => close("cancelled"));
}

function toObject(c) {
  const data =
    c.data_b64 !== undefined
      ? Buffer.from(c.data_b64, "base64")
      : HostStats.encode({ collector: c.collector, interval_seconds: c.interval_seconds ?? 0 }).finish();
  return {
    type: { type: c.type ?? HOST_STATS },
    name: c.name,
    version: c.version ?? "",
    data,
    ...(c.ttl_seconds !== undefined ? { ttl: { seconds: Math.floor(c.ttl_seconds), nanos: Math.round((c.ttl_seconds % 1) * 1e9) } } : {}),
  };
}

const server = new grpc.Server();
server.addService(
  {
    WatchConfig: {
      path: "/antimetal.service.agent.v1.AgentManagementService/WatchConfig",
      requestStream: true,
      responseStream: true,
      requestSerialize: (m) => Buffer.from(Request.encode(m).finish()),
      requestDeserialize: (b) => Request.toObject(Request.decode(b), { defaults: false }),
      responseSerialize: (m) => Buffer.from(Response.encode(m).finish()),
      responseDeserialize: (b) => Response.decode(b),
    },
  },
  { WatchConfig: handle },
);

const control = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const url = new URL(req.url, "http://x");
    let out = { ok: true };
    try {
      if (req.method === "POST" && url.pathname === "/push") {
        queue.push(JSON.parse(body).configs.map(toObject));
        sendNext();
      } else if (req.method === "POST" && url.pathname === "/cmd") {
        const c = JSON.parse(body || "{}");
        if (c.end)
          for (const s of [...open.values()]) {
            s.call.emit("error", { code: grpc.status[c.end], details: "ended by the test" });
            s.ended = true;
            open.delete(s.id);
          }
      } else if (url.pathname === "/state") {
        out = { ...state, open: open.size, queued: queue.length };
      } else {
        res.writeHead(404);
        res.end();
        return;
      }
    } catch (e) {
      res.writeHead(400);
      return void res.end(String(e?.message ?? e));
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  });
});

const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(opts.cert), private_key: readFileSync(opts.key) }], false);
const controlPort = await new Promise((r) => control.listen(0, "127.0.0.1", () => r(control.address().port)));
const port = await new Promise((resolve, reject) =>
  server.bindAsync(`127.0.0.1:${opts.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
);
process.stdout.write(JSON.stringify({ port, control: controlPort }) + "\n");
process.on("SIGTERM", () => process.exit(0));
