// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Thin Kubernetes REST client over Bun's fetch, so LIST and WATCH can ask for the protobuf encoding
 * (@kubernetes/client-node cannot) and stream it. Credentials, TLS and proxy of every request come
 * from client-node's KubeConfig through KubeAuth; after a 401, credentials that change over time
 * (exec plugin, OIDC, token file) are reloaded and the request is sent once more.
 */

import { errorMessage } from "../../util/errors.ts";
import { decodeEnvelope, getString, hasMagic } from "../pb.ts";
import type { KubeConfig } from "./config.ts";

export const PROTOBUF = "application/vnd.kubernetes.protobuf";
export const PROTOBUF_WATCH = "application/vnd.kubernetes.protobuf;stream=watch";

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export interface RequestOptions {
  method?: string;
  accept?: string;
  body?: string | Uint8Array;
  contentType?: string;
  signal?: AbortSignal;
  /** Disable Bun's fetch timeout (long-running watches). */
  noTimeout?: boolean;
}

export class KubeClient {
  readonly server: string;
  readonly source: string;

  constructor(readonly config: KubeConfig) {
    this.server = config.server;
    this.source = config.source;
  }

  /** Raw request. Throws KubeApiError for non-2xx (after one credential reload on 401 where that can help). */
  async request(p: string, opts: RequestOptions = {}): Promise<Response> {
    let res = await this.once(p, opts);
    if (res.status === 401 && this.config.auth.refreshable) {
      await res.body?.cancel().catch((e: unknown) => void e);
      this.config.auth.refresh();
      res = await this.once(p, opts);
    }
    if (!res.ok) throw await apiError(res);
    return res;
  }

  private async once(p: string, opts: RequestOptions): Promise<Response> {
    const auth = await this.config.auth.request();
    const headers = new Headers({ accept: opts.accept ?? "application/json", "user-agent": "antimetal-agent" });
    for (const [name, value] of auth.headers) headers.append(name, value);
    if (opts.body !== undefined) headers.set("content-type", opts.contentType ?? "application/json");
    const init: RequestInit & { tls?: object; proxy?: string; timeout?: boolean } = {
      method: opts.method ?? "GET",
      headers,
      body: opts.body,
      signal: opts.signal,
      tls: auth.tls,
    };
    if (auth.proxy) init.proxy = auth.proxy;
    if (opts.noTimeout) init.timeout = false;
    try {
      return await fetch(this.server + p, init);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new Error(`${init.method} ${this.server}${p.split("?")[0]}${auth.proxy ? " via proxy" : ""}: ${errorMessage(e)}`, { cause: e });
    }
  }

  async getJSON<T = unknown>(p: string, signal?: AbortSignal): Promise<T> {
    const res = await this.request(p, { signal });
    return (await res.json()) as T;
  }

  async sendJSON<T = unknown>(method: string, p: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(p, { method, body: JSON.stringify(body), signal });
    return (await res.json()) as T;
  }

  async getBytes(p: string, accept = PROTOBUF, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await this.request(p, { accept, signal });
    return new Uint8Array(await res.arrayBuffer());
  }
}

async function apiError(res: Response): Promise<KubeApiError> {
  let reason = "";
  let message = `${res.status} ${res.statusText}`;
  try {
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (hasMagic(bytes)) {
      // metav1.Status in protobuf: message=3, reason=4
      const st = decodeEnvelope(bytes).raw;
      const all = { start: 0, end: st.length };
      reason = getString(st, all, 4);
      const msg = getString(st, all, 3);
      if (msg) message = `${res.status}: ${msg}`;
      return new KubeApiError(res.status, reason, message);
    }
    const text = new TextDecoder().decode(bytes);
    try {
      const st = JSON.parse(text) as { reason?: string; message?: string };
      reason = st.reason ?? "";
      if (st.message) message = `${res.status}: ${st.message}`;
    } catch {
      if (text && text.length < 500 && /^[\x20-\x7e\s]*$/.test(text)) message = `${res.status}: ${text.trim()}`;
    }
  } catch (e) {
    message = `${message} (body unreadable: ${errorMessage(e)})`;
  }
  return new KubeApiError(res.status, reason, message);
}
