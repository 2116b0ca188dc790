// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for the attribute files of one /sys/class/net/<iface> directory, as procfs' NetClassIface:
// each file is one value; files the kernel refuses to read (EINVAL on a down link) are absent.

/** The attribute files read per interface (the ones node_exporter's netclass collector uses). */
export const NETCLASS_FILES = [
  "addr_assign_type",
  "address",
  "broadcast",
  "carrier",
  "carrier_changes",
  "carrier_up_count",
  "carrier_down_count",
  "dev_id",
  "dormant",
  "duplex",
  "flags",
  "ifalias",
  "ifindex",
  "iflink",
  "link_mode",
  "mtu",
  "name_assign_type",
  "netdev_group",
  "operstate",
  "speed",
  "tx_queue_len",
  "type",
  "statistics/rx_nohandler",
] as const;
export type NetClassFile = (typeof NETCLASS_FILES)[number];

/** One interface. A field is undefined when its file is missing or unreadable. */
export interface NetClassIface {
  name: string;
  address?: string;
  broadcast?: string;
  duplex?: string;
  ifalias?: string;
  operstate?: string;
  addr_assign_type?: number;
  carrier?: number;
  carrier_changes?: number;
  carrier_up_count?: number;
  carrier_down_count?: number;
  dev_id?: number;
  dormant?: number;
  flags?: number;
  ifindex?: number;
  iflink?: number;
  link_mode?: number;
  mtu?: number;
  name_assign_type?: number;
  netdev_group?: number;
  /** Mbps; -1 when the driver does not know. */
  speed?: number;
  tx_queue_len?: number;
  type?: number;
  /** /sys/class/net/<iface>/statistics/rx_nohandler (u64). */
  rx_nohandler?: bigint;
}

type NumericKey = Exclude<keyof NetClassIface, "name" | "address" | "broadcast" | "duplex" | "ifalias" | "operstate" | "rx_nohandler">;
const TEXT_KEYS = ["address", "broadcast", "duplex", "ifalias", "operstate"] as const;
/** Files holding "0x"-prefixed hex (dev_id, flags); the others are decimal. */
const HEX_OK = new Set(["dev_id", "flags"]);

/**
 * Builds the record of interface `name` from the texts of its attribute files (missing key = file absent).
 * Throws naming the file when a numeric attribute is not a number.
 */
export function parseNetClassIface(name: string, files: Partial<Record<NetClassFile, string>>, dir = `class/net/${name}`): NetClassIface {
  const out: NetClassIface = { name };
  for (const key of TEXT_KEYS) {
    const t = files[key];
    if (t !== undefined) out[key] = t.trim();
  }
  for (const file of NETCLASS_FILES) {
    if ((TEXT_KEYS as readonly string[]).includes(file) || file === "statistics/rx_nohandler") continue;
    const t = files[file]?.trim();
    if (t === undefined) continue;
    const v = HEX_OK.has(file) && /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
    if (Number.isNaN(v)) throw new Error(`${dir}/${file}: "${t}" is not a number`);
    out[file as NumericKey] = v;
  }
  const noHandler = files["statistics/rx_nohandler"]?.trim();
  if (noHandler !== undefined) {
    if (!/^\d+$/.test(noHandler)) throw new Error(`${dir}/statistics/rx_nohandler: "${noHandler}" is not a number`);
    out.rx_nohandler = BigInt(noHandler);
  }
  return out;
}
