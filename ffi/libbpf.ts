// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The libbpf 1.x symbols the agent calls through bun:ffi. Only functions whose ABI is stable
 * across libbpf 1.x are listed; structs are passed as opaque pointers. libbpf 1.x returns
 * negative errno from int functions and NULL (errno set) from pointer functions.
 */

import type { FFIFunction } from "bun:ffi";

const ptr = "ptr" as const;
const i32 = "i32" as const;
const u32 = "u32" as const;
const usize = "usize" as const;
const v = "void" as const;
const cstring = "cstring" as const;

export const LIBBPF_SYMBOLS = {
  libbpf_major_version: { args: [], returns: u32 },
  libbpf_minor_version: { args: [], returns: u32 },
  libbpf_num_possible_cpus: { args: [], returns: i32 },
  libbpf_set_print: { args: [ptr], returns: ptr },
  libbpf_probe_bpf_map_type: { args: [i32, ptr], returns: i32 },
  libbpf_probe_bpf_prog_type: { args: [i32, ptr], returns: i32 },

  bpf_object__open_mem: { args: [ptr, usize, ptr], returns: ptr },
  bpf_object__load: { args: [ptr], returns: i32 },
  bpf_object__close: { args: [ptr], returns: v },
  bpf_object__find_program_by_name: { args: [ptr, cstring], returns: ptr },
  bpf_object__find_map_by_name: { args: [ptr, cstring], returns: ptr },

  bpf_program__attach: { args: [ptr], returns: ptr },
  bpf_program__fd: { args: [ptr], returns: i32 },
  bpf_link__destroy: { args: [ptr], returns: i32 },

  bpf_map__fd: { args: [ptr], returns: i32 },
  bpf_map__set_max_entries: { args: [ptr, u32], returns: i32 },
  bpf_map__max_entries: { args: [ptr], returns: u32 },
  bpf_map__initial_value: { args: [ptr, ptr], returns: ptr },
  bpf_map_lookup_elem: { args: [i32, ptr, ptr], returns: i32 },
  bpf_obj_get_info_by_fd: { args: [i32, ptr, ptr], returns: i32 },

  bpf_object__btf: { args: [ptr], returns: ptr },
  btf__find_by_name_kind: { args: [ptr, cstring, u32], returns: i32 },
  btf__type_by_id: { args: [ptr, u32], returns: ptr },
  btf__name_by_offset: { args: [ptr, u32], returns: cstring },

  ring_buffer__new: { args: [i32, "function", ptr, ptr], returns: ptr },
  ring_buffer__poll: { args: [ptr, i32], returns: i32 },
  ring_buffer__consume: { args: [ptr], returns: i32 },
  ring_buffer__free: { args: [ptr], returns: v },
} as const satisfies Record<string, FFIFunction>;

/** libc functions used to load the embedded libraries from memory and to read errno. */
export const LIBC_SYMBOLS = {
  memfd_create: { args: [ptr, u32], returns: i32 },
  write: { args: [i32, ptr, usize], returns: "i64" },
  close: { args: [i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
  strerror: { args: [i32], returns: cstring },
  clock_gettime: { args: [i32, ptr], returns: i32 },
  memcpy: { args: [ptr, ptr, usize], returns: ptr },
  mount: { args: [ptr, ptr, ptr, "u64", ptr], returns: i32 },
} as const satisfies Record<string, FFIFunction>;

/** BPF map and program type numbers from uapi/linux/bpf.h. */
export const BPF_MAP_TYPE_RINGBUF = 27;
export const BPF_PROG_TYPE_TRACEPOINT = 5;
export const BTF_KIND_DATASEC = 15;
