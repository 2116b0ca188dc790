// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A reader thread of the read pool: makes one blocking filesystem call at a time, so a call the
// kernel never answers (hung NFS, stuck sysfs attribute) holds only this thread, which the pool
// abandons and replaces. Must be an entrypoint of the compiled binary (scripts/build.ts).

import * as fs from "node:fs";
import type { MessagePort } from "node:worker_threads";
import { readBounded } from "./bounded-read.ts";
import type { ReadOp, ReadReply, ReadRequest, ReadWorkerInit, WireDirent } from "./read-protocol.ts";

declare const self: Worker;

function kind(d: fs.Dirent): WireDirent["kind"] {
  if (d.isDirectory()) return "dir";
  if (d.isFile()) return "file";
  if (d.isSymbolicLink()) return "link";
  return "other";
}

function run(op: ReadOp): Extract<ReadReply, { ok: true }>["value"] {
  switch (op.op) {
    case "read":
      return readBounded(op.path, op.maxBytes, op.regularOnly);
    case "readMany":
      return op.paths.map((p) => {
        try {
          return { text: readBounded(p, op.maxBytes, op.regularOnly) };
        } catch (e) {
          return { code: errorCode(e) ?? "error", message: e instanceof Error ? e.message : String(e) };
        }
      });
    case "list":
      return fs.readdirSync(op.path, { withFileTypes: true }).map((d) => ({ name: d.name, kind: kind(d) }));
    case "stat": {
      const s = fs.statSync(op.path);
      return { isDirectory: s.isDirectory(), isFile: s.isFile(), size: s.size };
    }
    case "statfs": {
      const s = fs.statfsSync(op.path, { bigint: true });
      return { type: s.type, bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree };
    }
    case "readlink":
      return fs.readlinkSync(op.path);
    case "realpath":
      return fs.realpathSync(op.path);
  }
}

function errorCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

let port: MessagePort | undefined;
let signals: Int32Array | undefined;

function reply(msg: ReadReply | "ready"): void {
  port!.postMessage(msg);
  Atomics.add(signals!, 0, 1);
  Atomics.notify(signals!, 0);
}

self.onmessage = (ev: MessageEvent<ReadRequest | ReadWorkerInit>) => {
  if ("port" in ev.data) {
    port = ev.data.port;
    signals = new Int32Array(ev.data.signals);
    reply("ready");
    return;
  }
  const { id, op } = ev.data;
  try {
    reply({ id, ok: true, value: run(op) });
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
    reply({ id, ok: false, code, message: e instanceof Error ? e.message : String(e) });
  }
};
