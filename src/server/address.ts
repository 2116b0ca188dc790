// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** A listen address: ":8080" -> 0.0.0.0:8080, "127.0.0.1:0" -> ephemeral port, "0"/"" -> disabled. */

export function parseBindAddress(address: string): { hostname: string; port: number } | undefined {
  if (address === "" || address === "0") return undefined;
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { hostname: host === "" ? "0.0.0.0" : host, port: Number(address.slice(i + 1)) };
}
