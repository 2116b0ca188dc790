// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The gRPC channel to the intake and its Delta calls: credentials, keepalive, the API key on
// every stream, and recreation when the watchdog gives up on a stalled channel.

import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log/logger.ts";
import { apiKeyProblem } from "../util/api-key.ts";
import { errorMessage } from "../util/errors.ts";
import { secureCredentials } from "./credentials.ts";
import { intakeMetrics } from "./metrics.ts";
import { decodeResponse } from "./wire.ts";

export const DELTA_METHOD = "/service.resource.v1.IntakeService/Delta";

export interface TransportOptions {
  /** host:port, as the original's --intake-address. */
  address: string;
  /** TLS (system roots unless caFile) vs plaintext. */
  secure: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  apiKey?: string;
  /** Read at every stream open, so the key can rotate without a restart and stays out of argv. */
  apiKeyFile?: string;
  /** Client keepalive ping interval. 5 min as the original: grpc-go servers reject pings more often than their MinTime (5 min) by default. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** DeltaResponse is empty; anything larger than this is refused (hostile or broken server). */
  maxResponseBytes?: number;
  /** Extra channel options (tests). */
  channelOptions?: grpc.ChannelOptions;
  logger: Logger;
}

export type CallOutcome = { ok: true } | { ok: false; code: number; codeName: string; details: string };

export { systemRoots } from "./credentials.ts";

export function codeName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** HTTPS_PROXY / NO_PROXY in upper case, as most tools accept; grpc-js itself reads only the lower-case names. */
export function applyProxyEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.https_proxy && env.HTTPS_PROXY) env.https_proxy = env.HTTPS_PROXY;
  if (!env.no_proxy && env.NO_PROXY) env.no_proxy = env.NO_PROXY;
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** grpc-js's message without its empty "Resolution note:" tail. */
function failureDetails(err: grpc.ServiceError): string {
  return (err.details ?? err.message).replace(/\.? Resolution note: ?$/, "");
}

/** One client-streaming Delta call. */
export class IntakeCall {
  private outcome: CallOutcome | undefined;
  readonly done: Promise<CallOutcome>;
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly stream: grpc.ClientWritableStream<Uint8Array>,
    done: Promise<CallOutcome>,
  ) {
    this.done = done.then((o) => {
      this.outcome = o;
      this.wakeDrain();
      return o;
    });
    stream.on("error", () => undefined); // the outcome arrives through the callback
    stream.on("drain", () => this.wakeDrain());
  }

  private wakeDrain(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Set once the call has finished (either way). */
  get finished(): CallOutcome | undefined {
    return this.outcome;
  }

  /** False means: wait for drain before writing more. */
  write(bytes: Uint8Array): boolean {
    return this.stream.write(bytes);
  }

  /** Resolves on 'drain', on call completion, or false on timeout. */
  waitDrain(timeoutMs: number): Promise<boolean> {
    if (this.outcome) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((f) => f !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.drainWaiters.push(done);
    });
  }

  end(): void {
    this.stream.end();
  }

  cancel(): void {
    this.stream.cancel();
  }
}

/**
 * The gRPC channel shared by the streamers. `recreate()` tears the channel down and builds a new
 * one: the watchdog uses it when acknowledgements stop (Bun HTTP/2 stall risk, oven-sh/bun#39796).
 */
export class IntakeTransport {
  private client: grpc.Client;
  private readonly creds: grpc.ChannelCredentials;
  private readonly options: grpc.ChannelOptions;
  private readonly log: Logger;
  private closed = false;
  generation = 0;

  constructor(private readonly opts: TransportOptions) {
    this.log = opts.logger;
    applyProxyEnvironment();
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
      throw new Error("intake client certificate and key must be given together");
    }
    this.creds = opts.secure ? secureCredentials(opts) : grpc.credentials.createInsecure();
    if (!opts.secure && (opts.caFile || opts.certFile || opts.keyFile)) {
      this.log.warn("intake TLS files given but --intake-secure=false: sending in plaintext");
    }
    this.options = {
      "grpc.keepalive_time_ms": opts.keepaliveTimeMs ?? 300_000,
      "grpc.keepalive_timeout_ms": opts.keepaliveTimeoutMs ?? 20_000,
      "grpc.keepalive_permit_without_calls": 0,
      "grpc.max_receive_message_length": opts.maxResponseBytes ?? 1 << 20,
      "grpc.initial_reconnect_backoff_ms": 500,
      "grpc.max_reconnect_backoff_ms": 10_000,
      "grpc.enable_retries": 0,
      "grpc.primary_user_agent": "antimetal-agent",
      ...opts.channelOptions,
    };
    this.client = this.newClient();
  }

  private newClient(): grpc.Client {
    this.generation++;
    return new grpc.Client(this.opts.address, this.creds, this.options);
  }

  private apiKey(): string {
    if (this.opts.apiKeyFile) {
      try {
        const key = readFileSync(this.opts.apiKeyFile, "utf8").trim();
        const problem = apiKeyProblem(key);
        if (!problem) return key;
        // a replaced key file with a bad key: never hand it to grpc-js, whose error would quote it
        this.log.error({ file: this.opts.apiKeyFile, err: problem }, "intake API key file holds an unusable key");
        return "";
      } catch (err) {
        this.log.error({ file: this.opts.apiKeyFile, err: errorMessage(err) }, "cannot read intake API key file");
        return "";
      }
    }
    return this.opts.apiKey ?? "";
  }

  /** A new key or key file, read from the next stream open on (a reloaded --config). */
  setApiKey(key: { apiKey?: string; apiKeyFile?: string }): void {
    this.opts.apiKey = key.apiKey;
    this.opts.apiKeyFile = key.apiKeyFile;
  }

  /** Opens a Delta call that the server must finish before `deadline` (ms since epoch). */
  open(deadline: number): IntakeCall {
    if (this.closed) throw new Error("intake transport closed");
    const md = new grpc.Metadata();
    md.set("authorization", `bearer ${this.apiKey()}`);
    let resolve!: (o: CallOutcome) => void;
    const done = new Promise<CallOutcome>((r) => (resolve = r));
    const stream = this.client.makeClientStreamRequest<Uint8Array, unknown>(
      DELTA_METHOD,
      toBuffer,
      (b: Buffer) => decodeResponse(b),
      md,
      { deadline: new Date(deadline) },
      (err) => {
        if (!err) resolve({ ok: true });
        else resolve({ ok: false, code: err.code ?? grpc.status.UNKNOWN, codeName: codeName(err.code ?? 2), details: failureDetails(err) });
      },
    );
    return new IntakeCall(stream, done);
  }

  recreate(reason: string): void {
    if (this.closed) return;
    intakeMetrics.channelRecreations.inc({ reason });
    this.log.warn({ reason }, "recreating intake gRPC channel");
    const old = this.client;
    this.client = this.newClient();
    try {
      old.close();
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "closing the replaced intake channel failed");
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
