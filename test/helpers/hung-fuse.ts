// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A FUSE filesystem whose files are regular files that open fine but whose reads never return
// (until the reader is killed): what a hung NFS hard mount looks like to a reader. Needs root and
// /dev/fuse.
// Usage: bun test/helpers/hung-fuse.ts <mountpoint> <name>...  (prints "ready"; SIGTERM ends it,
// which aborts the connection: blocked reads then fail with ENOTCONN).

import { dlopen, FFIType } from "bun:ffi";
import * as fs from "node:fs";

const [mountpoint, ...names] = process.argv.slice(2);
if (!mountpoint || names.length === 0) throw new Error("usage: hung-fuse.ts <mountpoint> <name>...");

const libc = dlopen("libc.so.6", {
  mount: { args: [FFIType.cstring, FFIType.cstring, FFIType.cstring, FFIType.u64, FFIType.cstring], returns: FFIType.i32 },
});
const cstr = (s: string) => Buffer.from(s + "\0");

const fd = fs.openSync("/dev/fuse", fs.constants.O_RDWR);
const rc = libc.symbols.mount(cstr("hung-fuse"), cstr(mountpoint), cstr("fuse"), 0n, cstr(`fd=${fd},rootmode=40000,user_id=0,group_id=0`));
if (rc !== 0) throw new Error(`mount ${mountpoint} failed (${rc}); needs root and /dev/fuse`);

const OP = { LOOKUP: 1, FORGET: 2, GETATTR: 3, OPEN: 14, READ: 15, RELEASE: 18, FLUSH: 25, INIT: 26, INTERRUPT: 36, BATCH_FORGET: 42 };
const ENOENT = 2;
const EINTR = 4;
const ENOSYS = 38;

function attr(ino: bigint, dir: boolean): Buffer {
  const a = Buffer.alloc(88);
  a.writeBigUInt64LE(ino, 0);
  a.writeBigUInt64LE(dir ? 0n : 4096n, 8); // size
  a.writeUInt32LE(dir ? 0o40555 : 0o100444, 60); // mode
  a.writeUInt32LE(1, 64); // nlink
  a.writeUInt32LE(4096, 80); // blksize
  return a;
}

function reply(unique: bigint, error: number, body: Buffer = Buffer.alloc(0)): void {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeInt32LE(-error, 4);
  h.writeBigUInt64LE(unique, 8);
  fs.writeSync(fd, Buffer.concat([h, body]));
}

process.stdout.write("ready\n");
const buf = Buffer.alloc(1 << 21);
for (;;) {
  let n: number;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    if ((e as { code?: string }).code === "ENODEV") process.exit(0); // unmounted
    throw e;
  }
  const opcode = buf.readUInt32LE(4);
  const unique = buf.readBigUInt64LE(8);
  const nodeid = buf.readBigUInt64LE(16);
  const body = buf.subarray(40, n);
  switch (opcode) {
    case OP.INIT: {
      const out = Buffer.alloc(64);
      out.writeUInt32LE(7, 0);
      out.writeUInt32LE(31, 4);
      out.writeUInt32LE(body.readUInt32LE(8), 8); // max_readahead
      out.writeUInt32LE(4096, 20); // max_write
      reply(unique, 0, out);
      break;
    }
    case OP.LOOKUP: {
      const name = body.toString("utf8", 0, body.indexOf(0));
      const i = names.indexOf(name);
      if (nodeid !== 1n || i < 0) {
        reply(unique, ENOENT);
        break;
      }
      const out = Buffer.alloc(40);
      out.writeBigUInt64LE(BigInt(i + 2), 0);
      out.writeBigUInt64LE(3600n, 16); // entry_valid
      out.writeBigUInt64LE(3600n, 24); // attr_valid
      reply(unique, 0, Buffer.concat([out, attr(BigInt(i + 2), false)]));
      break;
    }
    case OP.GETATTR: {
      const out = Buffer.alloc(16);
      out.writeBigUInt64LE(3600n, 0);
      reply(unique, 0, Buffer.concat([out, attr(nodeid, nodeid === 1n)]));
      break;
    }
    case OP.OPEN:
      reply(unique, 0, Buffer.alloc(16));
      break;
    case OP.READ:
      break; // never answered: the reader blocks until the connection ends
    case OP.RELEASE:
    case OP.FLUSH:
      reply(unique, 0);
      break;
    case OP.INTERRUPT:
      // the reader got a fatal signal (its process exits): end its READ, as an NFS hard mount
      // (TASK_KILLABLE) lets a killed reader go; a read nobody kills stays blocked
      reply(body.readBigUInt64LE(0), EINTR);
      break;
    case OP.FORGET:
    case OP.BATCH_FORGET:
      break; // no reply expected
    default:
      reply(unique, ENOSYS);
  }
}
