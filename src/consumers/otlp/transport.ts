// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The two OTLP transports: gRPC (grpc-js unary MetricsService/Export) and http/protobuf (POST of the
// same bytes). Each sends one encoded request and reports the outcome as retryable or not, with the
// partial-success answer and the bytes put on the wire.

import { gzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ExportMetricsServiceResponse,
  ExportMetricsServiceResponseSchema,
} from "../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts";
import { errorMessage } from "../../util/errors.ts";
import type { OtlpConfig } from "./config.ts";

export interface SendResult {
  ok: boolean;
  /** Worth sending again (unavailable, overloaded, timed out). */
  retryable: boolean;
  /** Server-suggested wait (HTTP Retry-After), ms. */
  retryAfterMs?: number;
  error?: string;
  response?: ExportMetricsServiceResponse;
  /** Request body bytes: as sent for HTTP (after gzip); the message before grpc-js compresses it for gRPC. */
  wireBytes: number;
}

export interface OtlpTransport {
  send(body: Uint8Array, signal: AbortSignal): Promise<SendResult>;
  close(): void;
}

/** gRPC codes the OTLP specification calls retryable. */
const GRPC_RETRYABLE = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);
/** HTTP statuses the OTLP specification calls retryable. */
const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);

const EXPORT_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

export function createTransport(cfg: OtlpConfig): OtlpTransport {
  return cfg.protocol === "grpc" ? new GrpcTransport(cfg) : new HttpTransport(cfg);
}

class GrpcTransport implements OtlpTransport {
  private readonly client: grpc.Client;
  constructor(private readonly cfg: OtlpConfig) {
    const creds = cfg.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl();
    this.client = new grpc.Client(cfg.target, creds, {
      // 2 = gzip in grpc-js's compression algorithm table
      ...(cfg.compression === "gzip" ? { "grpc.default_compression_algorithm": 2, "grpc.default_compression_level": 2 } : {}),
      "grpc.enable_retries": 0,
      "grpc.initial_reconnect_backoff_ms": 500,
      "grpc.max_reconnect_backoff_ms": 5000,
      "grpc.primary_user_agent": "antimetal-agent",
    });
  }

  send(body: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.cfg.headers)) md.set(k.toLowerCase(), v);
    // grpc-js compresses inside the library: the size counted is the message before that
    const wireBytes = body.length;
    return new Promise((resolve) => {
      const call = this.client.makeUnaryRequest<Uint8Array, ExportMetricsServiceResponse>(
        EXPORT_METHOD,
        (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (buf) => fromBinary(ExportMetricsServiceResponseSchema, buf),
        body,
        md,
        { deadline: Date.now() + this.cfg.timeoutMs },
        (err, response) => {
          signal.removeEventListener("abort", cancel);
          if (!err) return resolve({ ok: true, retryable: false, response, wireBytes });
          resolve({
            ok: false,
            retryable: GRPC_RETRYABLE.has(err.code),
            error: `${grpc.status[err.code] ?? err.code}: ${err.details}`,
            wireBytes,
          });
        },
      );
      const cancel = () => call.cancel();
      signal.addEventListener("abort", cancel, { once: true });
    });
  }

  close(): void {
    this.client.close();
  }
}

class HttpTransport implements OtlpTransport {
  constructor(private readonly cfg: OtlpConfig) {}

  async send(body: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    const gzip = this.cfg.compression === "gzip";
    const payload = gzip ? gzipSync(body) : body;
    const headers: Record<string, string> = {
      ...this.cfg.headers,
      "content-type": "application/x-protobuf",
      "user-agent": "antimetal-agent",
    };
    if (gzip) headers["content-encoding"] = "gzip";
    let res: Response;
    try {
      res = await fetch(this.cfg.target, {
        method: "POST",
        body: payload,
        headers,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.cfg.timeoutMs)]),
      });
    } catch (e) {
      // connection refused, reset, DNS, timeout: the endpoint may come back
      return { ok: false, retryable: !signal.aborted, error: errorMessage(e), wireBytes: payload.length };
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.ok) {
      let response: ExportMetricsServiceResponse | undefined;
      if (bytes.length > 0 && (res.headers.get("content-type") ?? "").includes("protobuf"))
        response = fromBinary(ExportMetricsServiceResponseSchema, bytes);
      return { ok: true, retryable: false, response, wireBytes: payload.length };
    }
    const after = Number(res.headers.get("retry-after"));
    return {
      ok: false,
      retryable: HTTP_RETRYABLE.has(res.status),
      retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
      error: `HTTP ${res.status}: ${new TextDecoder().decode(bytes.subarray(0, 200))}`,
      wireBytes: payload.length,
    };
  }

  close(): void {
    // fetch keeps no connection of its own to close
  }
}
