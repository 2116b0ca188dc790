// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// ListerWatcher (client-go's cache.ListerWatcher): the two calls a reflector makes for one kind,
// LIST a page and open a WATCH, with the kube client behind them; the bytes are decoded elsewhere.

import { type KubeClient, PROTOBUF, PROTOBUF_WATCH } from "./client/client.ts";
import { collectionPath, type KindSpec } from "./kinds.ts";

export interface ListOptions {
  limit: number;
  /** Continue token of the previous page ("" for the first). */
  continueToken: string;
}

export interface WatchOptions {
  resourceVersion: string;
  timeoutSeconds: number;
}

export interface ListerWatcher {
  /** One LIST page in the protobuf encoding (enveloped *List). */
  list(opts: ListOptions, signal: AbortSignal): Promise<Uint8Array>;
  /** A WATCH stream with bookmarks, as byte chunks; ends when the server closes it or `signal` aborts. */
  watch(opts: WatchOptions, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** The ListerWatcher of one kind on an apiserver, optionally restricted by a field selector. */
export function kubeListerWatcher(client: KubeClient, spec: KindSpec, fieldSelector?: string): ListerWatcher {
  const query = (params: Record<string, string>): string => {
    const q = new URLSearchParams(params);
    if (fieldSelector) q.set("fieldSelector", fieldSelector);
    return `${collectionPath(spec)}?${q.toString()}`;
  };
  return {
    list(opts, signal) {
      const params: Record<string, string> = { limit: String(opts.limit) };
      if (opts.continueToken) params.continue = opts.continueToken;
      return client.getBytes(query(params), PROTOBUF, signal);
    },
    async watch(opts, signal) {
      const res = await client.request(
        query({
          watch: "1",
          resourceVersion: opts.resourceVersion,
          allowWatchBookmarks: "true",
          timeoutSeconds: String(opts.timeoutSeconds),
        }),
        { accept: PROTOBUF_WATCH, signal, noTimeout: true },
      );
      if (!res.body) throw new Error(`watch ${spec.kind}: response without a body`);
      return res.body;
    },
  };
}
