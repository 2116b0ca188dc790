// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * A loaded BPF object: open_mem from bytes (the embedded .bpf.o), optional map resizing and
 * .rodata rewriting before load, attach by program name, map access, and a close that destroys
 * every link before closing the object. All libbpf calls happen on the thread that created it.
 */

import { type Pointer, ptr, read, toArrayBuffer } from "bun:ffi";
import { readFileSync } from "node:fs";
import { BTF_KIND_DATASEC } from "../../ffi/libbpf.ts";
import { type LoadedLibbpf, libbpfError } from "../../ffi/loader.ts";
import { errorMessage } from "../util/errors.ts";

export class BpfObject {
  private obj: Pointer | null;
  private links: Pointer[] = [];
  private loadedFlag = false;
  /** Kept referenced: libbpf points into it while parsing, until load() returns. */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: held only to keep the buffer alive for libbpf
  private bytes: Uint8Array | null;

  private constructor(
    private readonly libbpf: LoadedLibbpf,
    obj: Pointer,
    bytes: Uint8Array,
    readonly name: string,
  ) {
    this.obj = obj;
    this.bytes = bytes;
  }

  static openFile(libbpf: LoadedLibbpf, path: string, name: string): BpfObject {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new Error(`cannot read eBPF object ${name} at ${path}: ${errorMessage(e)}`);
    }
    return BpfObject.openMem(libbpf, bytes, name);
  }

  static openMem(libbpf: LoadedLibbpf, bytes: Uint8Array, name: string): BpfObject {
    const obj = libbpf.lib.bpf_object__open_mem(ptr(bytes), bytes.byteLength, null);
    if (!obj) throw libbpfError(`bpf_object__open_mem(${name})`);
    return new BpfObject(libbpf, obj as Pointer, bytes, name);
  }

  private handle(): Pointer {
    if (!this.obj) throw new Error(`eBPF object ${this.name} is closed`);
    return this.obj;
  }

  private map(name: string): Pointer {
    const m = this.libbpf.lib.bpf_object__find_map_by_name(this.handle(), Buffer.from(name + "\0"));
    if (!m) throw new Error(`eBPF object ${this.name} has no map ${name}`);
    return m as Pointer;
  }

  setMaxEntries(mapName: string, n: number): void {
    const ret = this.libbpf.lib.bpf_map__set_max_entries(this.map(mapName), n);
    if (ret < 0) throw libbpfError(`bpf_map__set_max_entries(${mapName}, ${n})`, ret);
  }

  /**
   * Rewrites a \`const volatile\` global in .rodata before load. The variable's offset and size
   * come from the object's BTF (DATASEC .rodata), not from assumptions about the layout.
   */
  setRodata(varName: string, value: number | bigint): void {
    if (this.loadedFlag) throw new Error(`setRodata(${varName}) after load`);
    const lib = this.libbpf.lib;
    const btf = lib.bpf_object__btf(this.handle());
    if (!btf) throw new Error(`eBPF object ${this.name} has no BTF`);
    const secId = lib.btf__find_by_name_kind(btf, Buffer.from(".rodata\0"), BTF_KIND_DATASEC);
    if (secId < 0) throw new Error(`eBPF object ${this.name} has no .rodata section in BTF`);
    const sec = lib.btf__type_by_id(btf, secId) as Pointer;
    // struct btf_type { u32 name_off; u32 info; u32 size; } then vlen x btf_var_secinfo { u32 type; u32 offset; u32 size; }
    const vlen = read.u32(sec, 4) & 0xffff;
    let found: { offset: number; size: number } | undefined;
    for (let i = 0; i < vlen; i++) {
      const type = read.u32(sec, 12 + i * 12);
      const v = lib.btf__type_by_id(btf, type) as Pointer;
      const name = String(lib.btf__name_by_offset(btf, read.u32(v, 0)));
      if (name === varName) found = { offset: read.u32(sec, 12 + i * 12 + 4), size: read.u32(sec, 12 + i * 12 + 8) };
    }
    if (!found) throw new Error(`eBPF object ${this.name} has no .rodata variable ${varName}`);
    const sizeBuf = new BigUint64Array(1);
    const p = lib.bpf_map__initial_value(this.map(".rodata"), ptr(sizeBuf));
    if (!p) throw libbpfError("bpf_map__initial_value(.rodata)");
    const total = Number(sizeBuf[0]);
    if (found.offset + found.size > total) throw new Error(`.rodata is ${total} bytes, ${varName} is at ${found.offset}+${found.size}`);
    const dv = new DataView(toArrayBuffer(p as Pointer, 0, total));
    switch (found.size) {
      case 4:
        dv.setUint32(found.offset, Number(value) >>> 0, true);
        break;
      case 8:
        dv.setBigUint64(found.offset, BigInt.asUintN(64, BigInt(value)), true);
        break;
      default:
        throw new Error(`.rodata variable ${varName} has unsupported size ${found.size}`);
    }
  }

  load(): void {
    const ret = this.libbpf.lib.bpf_object__load(this.handle());
    if (ret < 0) throw libbpfError(`loading eBPF object ${this.name} (bpf_object__load)`, ret);
    this.loadedFlag = true;
    this.bytes = null;
  }

  attach(progName: string): void {
    const prog = this.libbpf.lib.bpf_object__find_program_by_name(this.handle(), Buffer.from(progName + "\0"));
    if (!prog) throw new Error(`eBPF object ${this.name} has no program ${progName}`);
    const link = this.libbpf.lib.bpf_program__attach(prog);
    if (!link) throw libbpfError(`attaching ${progName}`);
    this.links.push(link as Pointer);
  }

  mapFd(name: string): number {
    const fd = this.libbpf.lib.bpf_map__fd(this.map(name));
    if (fd < 0) throw libbpfError(`bpf_map__fd(${name})`, fd);
    return fd;
  }

  /** Kernel program id (as `bpftool prog show` lists it). */
  programId(progName: string): number {
    const prog = this.libbpf.lib.bpf_object__find_program_by_name(this.handle(), Buffer.from(progName + "\0"));
    if (!prog) throw new Error(`eBPF object ${this.name} has no program ${progName}`);
    const fd = this.libbpf.lib.bpf_program__fd(prog);
    if (fd < 0) throw libbpfError(`bpf_program__fd(${progName})`, fd);
    const info = new Uint8Array(256);
    const len = new Uint32Array([info.byteLength]);
    const ret = this.libbpf.lib.bpf_obj_get_info_by_fd(fd, ptr(info), ptr(len));
    if (ret < 0) throw libbpfError(`bpf_obj_get_info_by_fd(${progName})`, ret);
    return new DataView(info.buffer).getUint32(4, true); // struct bpf_prog_info { __u32 type; __u32 id; ... }
  }

  /** Sum over CPUs of a u64 value in a per-CPU array map. */
  percpuU64Sum(mapName: string, key: number): bigint {
    const ncpu = this.libbpf.lib.libbpf_num_possible_cpus();
    if (ncpu <= 0) throw libbpfError("libbpf_num_possible_cpus", ncpu);
    const values = new BigUint64Array(ncpu);
    const k = new Uint32Array([key]);
    const ret = this.libbpf.lib.bpf_map_lookup_elem(this.mapFd(mapName), ptr(k), ptr(values));
    if (ret < 0) throw libbpfError(`bpf_map_lookup_elem(${mapName}[${key}])`, ret);
    let sum = 0n;
    for (const v of values) sum += v;
    return sum;
  }

  /** Destroys every link: the programs stop running (maps stay readable until close). */
  detach(): void {
    for (const l of this.links.splice(0)) this.libbpf.lib.bpf_link__destroy(l);
  }

  /** Destroys every link (detaching the programs), then closes the object (programs and maps). */
  close(): void {
    for (const l of this.links.splice(0)) this.libbpf.lib.bpf_link__destroy(l);
    if (this.obj) this.libbpf.lib.bpf_object__close(this.obj);
    this.obj = null;
    this.bytes = null;
  }
}
