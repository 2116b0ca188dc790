// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * A BPF_MAP_TYPE_RINGBUF map read straight from its mapping, as libbpf's ring_buffer does but
 * without a call per record: the consumer page mapped read-write, the producer page and the data
 * area (mapped twice by the kernel, so a record that wraps is contiguous) read-only, an epoll
 * instance on the map fd for wakeups. drain() walks the committed records' headers in JS and hands
 * them on in batches, each one copy of a run of consecutive records (headers included).
 *
 * Memory ordering (the kernel side: kernel/bpf/ringbuf.c). The producer writes a record's header
 * with BUSY set and then publishes producer_pos with smp_store_release; it fills the payload and
 * commits with xchg(&hdr->len, len without BUSY), a full barrier; before reserving it reads
 * consumer_pos with smp_load_acquire. So the consumer must (1) load producer_pos before the
 * headers below it, (2) load each header before that record's payload, (3) finish reading the
 * payload before it stores consumer_pos. libbpf does (1)/(2) with smp_load_acquire and (3) with
 * smp_store_release. JavaScript has no acquire load of read-only memory: JIT-compiled
 * Atomics.load is an atomic read-modify-write (a locked xadd on x86-64), which faults on the
 * read-only producer and data pages. So producer_pos and the headers are plain loads (aligned, so
 * single-copy atomic on x86-64 and arm64), and (1) and (2) come from fences: an Atomics.add on a
 * private SharedArrayBuffer right after the producer_pos load, and another after a batch's header
 * loads, before any of its payload is read. Every Atomics operation is sequentially consistent and
 * JSC's optimizer treats it as reading and writing all memory, so no load is hoisted above it or
 * sunk below it; in hardware it is a locked instruction on x86-64 (a full barrier; x86 does not
 * reorder loads with loads anyway). On arm64 this relies on JSC's sequentially consistent
 * read-modify-write ordering the plain loads around it, which holds for a fully ordered atomic
 * (LDADDAL on CPUs with LSE atomics, ARMv8.1 and later); the arm64 build has only run under qemu
 * (TCG on an x86-64 host, itself strongly ordered), so that part is argued, not tested. The
 * payloads are read by one copy per batch (TypedArray set, a native call the JIT cannot move)
 * after the second fence. (3) is Atomics.store of consumer_pos on the writable consumer page:
 * sequentially consistent, so ordered after the copy's loads.
 */

import { dlopen, type FFIFunction, type Library, type Pointer, ptr, read, toArrayBuffer } from "bun:ffi";
import type { Libbpf } from "../../ffi/loader.ts";
import { RECYCLE_MIN_BYTES, RECYCLE_POOL } from "./ringbuf-protocol.ts";
import { newRingWalk, walkRing } from "./ringbuf-walk.ts";

const BPF_MAP_TYPE_RINGBUF = 27;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EINTR = 4;

const LIBC = {
  mmap: { args: ["ptr", "usize", "i32", "i32", "i32", "i64"], returns: "ptr" },
  munmap: { args: ["ptr", "usize"], returns: "i32" },
  getpagesize: { args: [], returns: "i32" },
  epoll_create1: { args: ["i32"], returns: "i32" },
  epoll_ctl: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  epoll_wait: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
} as const satisfies Record<string, FFIFunction>;

type RingLibc = Library<typeof LIBC>["symbols"];
let libc: RingLibc | undefined;
function getRingLibc(): RingLibc {
  libc ??= dlopen("libc.so.6", LIBC).symbols;
  return libc;
}

function errno(c: RingLibc): number {
  const p = c.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

const MAP_FAILED = 2 ** 64 - 1;
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** The ring's max_entries (data size in bytes), checking the map is a ring buffer. */
export function ringSize(lib: Libbpf, fd: number): number {
  const info = new Uint32Array(32); // struct bpf_map_info: type, id, key_size, value_size, max_entries, ...
  const len = new Uint32Array([info.byteLength]);
  const ret = lib.bpf_obj_get_info_by_fd(fd, ptr(info), ptr(len));
  if (ret !== 0) throw new Error(`bpf_obj_get_info_by_fd(map fd ${fd}): errno ${-ret}`);
  if (info[0] !== BPF_MAP_TYPE_RINGBUF) throw new Error(`map fd ${fd} is of type ${info[0]}, not a ring buffer`);
  const size = info[4]!;
  if (size === 0 || (size & (size - 1)) !== 0) throw new Error(`ring buffer size ${size} is not a power of two`);
  return size;
}

/** One batch: the first `len` bytes of `buf` hold `records` records in ring layout; `oversized` were skipped before it. */
export type RingBatchSink = (buf: ArrayBuffer, len: number, records: number, oversized: number) => void;
/** Returns a buffer of at least `len` bytes for the next batch (the sink takes it over). */
export type RingBatchAlloc = (len: number) => ArrayBuffer;

/**
 * Buffers for batches: small batches get exact-size fresh buffers; large ones a recycled buffer
 * (from `take`, which returns buffers the consumer has finished with) when one is big enough, else
 * a fresh one of `batchBytes`. At most RECYCLE_POOL recycled buffers are kept.
 */
export class BatchBuffers {
  private readonly pool: ArrayBuffer[] = [];

  constructor(
    private readonly batchBytes: number,
    private readonly take: () => ArrayBuffer | undefined,
  ) {}

  readonly alloc = (len: number): ArrayBuffer => {
    if (len < RECYCLE_MIN_BYTES) return new ArrayBuffer(len);
    const pool = this.pool;
    for (let b = this.take(); b; b = this.take()) if (pool.length < RECYCLE_POOL) pool.push(b);
    for (let i = pool.length - 1; i >= 0; i--) {
      const b = pool[i]!;
      if (b.byteLength >= len) {
        pool.splice(i, 1);
        return b;
      }
    }
    return new ArrayBuffer(Math.max(len, this.batchBytes));
  };
}

export class MappedRing {
  private readonly c = getRingLibc();
  private readonly pageSize: number;
  readonly size: number;
  private readonly mask: number;
  private consPtr: Pointer | null = null;
  private dataPtr: Pointer | null = null;
  private readonly dataLen: number;
  private epfd = -1;
  /** consumer_pos, the only word this side writes (Atomics.store: release). */
  private readonly consumer: BigUint64Array;
  /** producer_pos, read with a plain load followed by fence(). */
  private readonly producer: BigUint64Array;
  /** The producer page and the double-mapped data area, read-only. */
  private readonly ringBuf: ArrayBuffer;
  private readonly hdr: Uint32Array;
  private readonly fenceCell = new Int32Array(new SharedArrayBuffer(4));
  private readonly walk = newRingWalk();
  private readonly evbuf = new Uint8Array(16);
  private cons: number;

  /** `size`: the ring's data size (ringSize(), read where libbpf is loaded). */
  constructor(size: number, mapFd: number) {
    const c = this.c;
    this.pageSize = c.getpagesize();
    this.size = size;
    if (this.size <= 0 || (this.size & (this.size - 1)) !== 0) throw new Error(`ring buffer size ${this.size} is not a power of two`);
    this.mask = this.size - 1;
    this.dataLen = this.pageSize + 2 * this.size;
    try {
      const cons = c.mmap(null, this.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, mapFd, 0) as Pointer | null;
      if (!cons || Number(cons) === MAP_FAILED) throw new Error(`mmap of the ring's consumer page: errno ${errno(c)}`);
      this.consPtr = cons;
      const data = c.mmap(null, this.dataLen, PROT_READ, MAP_SHARED, mapFd, this.pageSize) as Pointer | null;
      if (!data || Number(data) === MAP_FAILED) throw new Error(`mmap of the ring's data (${this.size} bytes): errno ${errno(c)}`);
      this.dataPtr = data;
      this.consumer = new BigUint64Array(toArrayBuffer(cons, 0, 8));
      this.ringBuf = toArrayBuffer(data, 0, this.dataLen);
      this.producer = new BigUint64Array(this.ringBuf, 0, 1);
      this.hdr = new Uint32Array(this.ringBuf, this.pageSize, (2 * this.size) >>> 2);
      this.cons = Number(Atomics.load(this.consumer, 0));
      this.epfd = c.epoll_create1(EPOLL_CLOEXEC);
      if (this.epfd < 0) throw new Error(`epoll_create1: errno ${errno(c)}`);
      const ev = new Uint8Array(16); // struct epoll_event { u32 events; u64 data } (packed on x86-64)
      new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
      if (c.epoll_ctl(this.epfd, EPOLL_CTL_ADD, mapFd, ptr(ev)) !== 0) throw new Error(`epoll_ctl(ring fd ${mapFd}): errno ${errno(c)}`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private fence(): void {
    Atomics.add(this.fenceCell, 0, 0);
  }

  /**
   * Waits up to `timeoutMs` for the kernel's wakeup. Returns false on a signal (EINTR); throws on
   * other errors. Records submitted without a wakeup are there to drain either way.
   */
  wait(timeoutMs: number): boolean {
    const n = this.c.epoll_wait(this.epfd, ptr(this.evbuf), 1, timeoutMs);
    if (n >= 0) return true;
    const e = errno(this.c);
    if (e === EINTR) return false;
    throw new Error(`epoll_wait on the ring buffer: errno ${e}`);
  }

  /** Bytes the producer has published and this side has not consumed (committed or not). */
  pending(): number {
    const prod = Number(this.producer[0]!);
    this.fence();
    return prod - this.cons;
  }

  /**
   * Hands every committed record to `sink` in batches of at most `maxBatch` bytes, each copied into
   * a buffer from `alloc`, releasing the ring space of each batch once it is copied. Stops at the
   * producer position read on entry or at a record not yet committed; `more()` (checked before
   * each batch) can stop it early. Returns the records handed on.
   */
  drain(maxBatch: number, alloc: RingBatchAlloc, sink: RingBatchSink, more?: () => boolean): number {
    return this.drainInPlace(
      maxBatch,
      (view, records, oversized) => {
        const len = view.byteLength;
        if (len === 0) return sink(new ArrayBuffer(0), 0, 0, oversized);
        const buf = alloc(len);
        new Uint8Array(buf, 0, len).set(new Uint8Array(view.buffer, view.byteOffset, len));
        sink(buf, len, records, oversized);
      },
      more,
    );
  }

  /**
   * Like drain(), but hands each batch to `sink` as a view of the mapped ring itself (no copy; the
   * data area is mapped twice, so a batch that wraps is contiguous), for a reader on the thread
   * that consumes the records (src/ebpf/ringbuf-inline.ts). The view is valid during the call only:
   * the batch's space is released right after it returns. Returns the records handed on.
   */
  drainInPlace(maxBatch: number, sink: (view: DataView, records: number, oversized: number) => void, more?: () => boolean): number {
    let total = 0;
    const prod = Number(this.producer[0]!);
    this.fence(); // (1): headers below prod are loaded after it
    while (this.cons < prod) {
      if (more && !more()) break;
      const w = walkRing(this.hdr, this.mask, this.cons, prod, maxBatch, this.walk);
      if (w.end === this.cons) break; // the next record is still busy
      if (w.end > w.start) {
        this.fence(); // (2): payloads are loaded after their headers
        if (w.records > 0 || w.oversized > 0)
          sink(new DataView(this.ringBuf, this.pageSize + (w.start & this.mask), w.end - w.start), w.records, w.oversized);
      } else if (w.oversized > 0) {
        sink(EMPTY_VIEW, 0, w.oversized);
      }
      total += w.records;
      this.cons = w.end;
      Atomics.store(this.consumer, 0, BigInt(w.end)); // (3): release the space once the sink is done with it
      if (w.busy) break;
    }
    return total;
  }

  close(): void {
    const c = this.c;
    if (this.epfd >= 0) c.close(this.epfd);
    this.epfd = -1;
    if (this.dataPtr) c.munmap(this.dataPtr, this.dataLen);
    this.dataPtr = null;
    if (this.consPtr) c.munmap(this.consPtr, this.pageSize);
    this.consPtr = null;
  }
}
