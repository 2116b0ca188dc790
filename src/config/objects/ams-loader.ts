// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The AMS config loader: antimetal.service.agent.v1.AgentManagementService/WatchConfig, a
// bidirectional stream to Antimetal's config service. The agent sends INITIAL (its Instance and the
// objects it holds), then answers every response with ACK or NACK (a google.rpc.Status carrying one
// ConfigError per refused object). Streams are renewed after --max-stream-age; failed ones are
// retried with backoff.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { secureCredentials } from "../../intake/credentials.ts";
import type { Logger } from "../../log/logger.ts";
import { meterBound } from "../../metrics/registry.ts";
import { ConfigErrorSchema } from "../../proto/gen/antimetal/agent/v1/config_pb.ts";
import type { Instance } from "../../proto/gen/antimetal/agent/v1/instance_pb.ts";
import {
  type WatchConfigRequest,
  WatchConfigRequestSchema,
  WatchConfigRequestType,
  type WatchConfigResponse,
  WatchConfigResponseSchema,
} from "../../proto/gen/antimetal/service/agent/v1/agent_pb.ts";
import { type Object$, ObjectSchema } from "../../proto/gen/antimetal/types/v1/object_pb.ts";
import { TypeDescriptorSchema } from "../../proto/gen/antimetal/types/v1/types_pb.ts";
import { StatusSchema } from "../../proto/gen/google/rpc/status_pb.ts";
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF } from "../../util/backoff.ts";
import { sleep } from "../../util/sleep.ts";
import { configObjectErrors, configObjects, configStreams } from "./metrics.ts";
import { type CollectorStatus, type ConfigInstance, configErrorOf, parseObject, versionProblem } from "./parse.ts";
import { type ConfigObjectSource, objectKey, objectView, sameActive } from "./source.ts";

export const WATCH_CONFIG_METHOD = "/antimetal.service.agent.v1.AgentManagementService/WatchConfig";
/** Objects the loader holds at most; a response that would go beyond is refused (NACK). */
export const MAX_AMS_OBJECTS = 1000;
/** google.rpc.Code INVALID_ARGUMENT, the code of every NACK. */
const INVALID_ARGUMENT = 3;

export interface AmsLoaderOptions {
  address: string;
  secure: boolean;
  caFile?: string;
  apiKey: string;
  maxStreamAgeMs: number;
  instance: Instance;
  collectorStatus: CollectorStatus;
  logger: Logger;
  backoff?: BackoffOptions;
}

interface Entry {
  instance: ConfigInstance;
  expiry?: ReturnType<typeof setTimeout>;
}

export class AmsConfigLoader implements ConfigObjectSource {
  readonly name = "config-loader";
  readonly loader = "ams" as const;
  readonly required = false;
  private client: grpc.Client | undefined;
  private entries = new Map<string, Entry>();
  private refused = new Map<string, ConfigInstance>();
  private listeners: Array<() => void> = [];
  private running = false;
  private call: grpc.ClientDuplexStream<WatchConfigRequest, WatchConfigResponse> | undefined;
  private loop: Promise<void> | undefined;
  private abort = new AbortController();
  private stats = { streams: 0, responses: 0, acks: 0, nacks: 0, lastError: undefined as string | undefined, connected: false };
  private readonly log: Logger;
  private readonly meter = meterBound("config_ams_objects", MAX_AMS_OBJECTS);

  constructor(private readonly opts: AmsLoaderOptions) {
    this.log = opts.logger;
  }

  async start(): Promise<void> {
    const creds = this.opts.secure ? secureCredentials({ caFile: this.opts.caFile }) : grpc.credentials.createInsecure();
    this.client = new grpc.Client(this.opts.address, creds, {
      "grpc.keepalive_time_ms": 300_000,
      "grpc.primary_user_agent": "antimetal-agent",
      "grpc.enable_retries": 0,
    });
    this.running = true;
    this.loop = this.run();
  }

  async stop(deadline: AbortSignal): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.call?.cancel();
    await Promise.race([this.loop, new Promise((r) => deadline.addEventListener("abort", r, { once: true }))]);
    for (const e of this.entries.values()) clearTimeout(e.expiry);
    this.client?.close();
  }

  isReady(): boolean {
    return this.running;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  active(): ConfigInstance[] {
    return [...this.entries.values()].map((e) => e.instance).filter((i) => i.status === "ok");
  }

  view() {
    const { lastError, ...counts } = this.stats;
    return {
      loader: "ams",
      state: { address: this.opts.address, ...counts, ...(lastError ? { error: lastError } : {}) },
      objects: [...this.entries.values()].map((e) => objectView(e.instance)).concat([...this.refused.values()].map(objectView)),
    };
  }

  /** Streams until stop(): a stream that got a response is renewed at once, a failing one after a backoff. */
  private async run(): Promise<void> {
    const backoff = new Backoff(this.opts.backoff ?? DEFAULT_BACKOFF);
    while (this.running) {
      const outcome = await this.stream();
      if (!this.running) return;
      configStreams.inc({ result: outcome.result });
      if (outcome.result === "max_age") continue;
      if (outcome.responses > 0) backoff.reset();
      const wait = outcome.responses > 0 ? 0 : backoff.next();
      this.log.warn({ address: this.opts.address, err: outcome.error, retryInMs: wait }, "config stream ended; reopening");
      await sleep(wait, this.abort.signal);
    }
  }

  /** One WatchConfig stream, from INITIAL to its end. */
  private stream(): Promise<{ result: "max_age" | "error" | "closed"; responses: number; error?: string }> {
    const md = new grpc.Metadata();
    if (this.opts.apiKey !== "") md.set("authorization", `bearer ${this.opts.apiKey}`);
    const call = this.client!.makeBidiStreamRequest<WatchConfigRequest, WatchConfigResponse>(
      WATCH_CONFIG_METHOD,
      (m) => Buffer.from(toBinary(WatchConfigRequestSchema, m)),
      (b) => fromBinary(WatchConfigResponseSchema, b),
      md,
    );
    this.call = call;
    this.stats.streams++;
    let responses = 0;
    let aged = false;
    const ageTimer = setTimeout(() => {
      aged = true;
      call.cancel();
    }, this.opts.maxStreamAgeMs);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (result: "max_age" | "error" | "closed", error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(ageTimer);
        this.stats.connected = false;
        if (error) this.stats.lastError = error;
        call.end();
        resolve({ result, responses, ...(error ? { error } : {}) });
      };
      call.on("data", (res: WatchConfigResponse) => {
        responses++;
        this.stats.connected = true;
        this.stats.lastError = undefined;
        this.respond(call, res);
      });
      call.on("error", (e: grpc.ServiceError) =>
        aged ? finish("max_age") : finish("error", `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`),
      );
      call.on("end", () => finish(aged ? "max_age" : "closed", aged ? undefined : "the config service ended the stream"));
      call.write(
        create(WatchConfigRequestSchema, {
          type: WatchConfigRequestType.INITIAL,
          instance: this.opts.instance,
          initialConfigs: this.active().map((i) => initialObject(i.object!)),
        }),
      );
    });
  }

  /** Applies one response and answers it: ACK when every object was taken, NACK with the reasons otherwise. */
  private respond(call: grpc.ClientDuplexStream<WatchConfigRequest, WatchConfigResponse>, res: WatchConfigResponse): void {
    this.stats.responses++;
    const before = this.active();
    const failures: ConfigInstance[] = [];
    for (const obj of res.configs) {
      const failed = this.process(obj);
      if (failed) failures.push(failed);
    }
    this.meter.depth(this.entries.size);
    configObjects.set({ loader: "ams", status: "ok" }, this.active().length);
    configObjects.set({ loader: "ams", status: "invalid" }, this.refused.size);
    const request = create(WatchConfigRequestSchema, {
      type: WatchConfigRequestType.ACK,
      responseSeqNum: res.seqNum,
      instance: this.opts.instance,
    });
    if (failures.length > 0) {
      this.stats.nacks++;
      configObjectErrors.inc({ loader: "ams" }, failures.length);
      request.type = WatchConfigRequestType.NACK;
      request.errorDetail = create(StatusSchema, {
        code: INVALID_ARGUMENT,
        message: failures[0]!.error!,
        details: failures.map((f) => anyPack(ConfigErrorSchema, configErrorOf(f))),
      });
      this.log.warn(
        { seqNum: res.seqNum, refused: failures.map((f) => ({ type: f.typeUrl, name: f.name, err: f.error })) },
        "config objects refused (NACK); the last good configs stay in force",
      );
    } else {
      this.stats.acks++;
    }
    call.write(request);
    if (!sameActive(before, this.active())) for (const l of this.listeners) l();
  }

  /** One object as the original processes it; returns the refused instance, or undefined when taken. */
  private process(obj: Object$): ConfigInstance | undefined {
    const key = `${obj.type?.type ?? ""}:${obj.name}`;
    const current = this.entries.get(key);
    // A TTL heartbeat: the same name and version without data renews the TTL (the original refused it).
    if (current && obj.data.length === 0 && obj.version === current.instance.version && obj.ttl) {
      this.arm(key, current, Number(obj.ttl.seconds) * 1000 + Math.floor(obj.ttl.nanos / 1e6));
      return undefined;
    }
    let parsed = parseObject(obj, "ams", this.opts.collectorStatus);
    const problem = versionProblem(parsed.version, current?.instance.version ?? "");
    if (problem) parsed = { ...parsed, status: "invalid", error: problem, config: undefined };
    if (parsed.status === "ok" && !current && this.entries.size >= MAX_AMS_OBJECTS) {
      this.meter.dropped("full");
      parsed = { ...parsed, status: "invalid", error: `too many config objects (at most ${MAX_AMS_OBJECTS})`, config: undefined };
    }
    if (parsed.status !== "ok") {
      this.refused.set(key, parsed);
      return parsed;
    }
    this.refused.delete(key);
    const entry: Entry = { instance: parsed, expiry: current?.expiry };
    this.entries.set(objectKey(parsed), entry);
    this.arm(objectKey(parsed), entry, parsed.ttlMs);
    return undefined;
  }

  /** ttl > 0: the object expires after it unless renewed; no ttl: it stays. */
  private arm(key: string, entry: Entry, ttlMs: number): void {
    clearTimeout(entry.expiry);
    entry.expiry = undefined;
    if (ttlMs <= 0) return;
    entry.expiry = setTimeout(() => {
      if (this.entries.get(key) !== entry) return;
      this.entries.delete(key);
      this.meter.depth(this.entries.size);
      this.log.info({ type: entry.instance.typeUrl, name: entry.instance.name }, "config object expired (TTL)");
      for (const l of this.listeners) l();
    }, ttlMs);
  }
}

/** An object as INITIAL replays it: type.type, name, version and data (no kind, no TTL), as the original. */
function initialObject(obj: Object$): Object$ {
  return create(ObjectSchema, {
    type: create(TypeDescriptorSchema, { type: obj.type?.type ?? "" }),
    name: obj.name,
    version: obj.version,
    data: obj.data,
  });
}
