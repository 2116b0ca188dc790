// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A small authoritative DNS server over UDP for tests: answers A and AAAA queries from a table the
// test changes while it runs, NXDOMAIN for names it does not have, and can be told to stay silent
// (a server that does not answer). Real DNS messages (RFC 1035), so the agent's own resolver is used.

import * as dgram from "node:dgram";
import { isIPv4 } from "node:net";

export interface TestDnsServer {
  /** "127.0.0.1:<port>", for a resolver's server list. */
  address: string;
  /** name (lower case, no trailing dot) -> its addresses (IPv4 and IPv6 mixed). */
  records: Map<string, string[]>;
  /** When true, queries get no answer (the resolver times out). */
  silent: boolean;
  /** Queries received, by name. */
  queries: string[];
  close(): void;
}

function ipv6Bytes(ip: string): Buffer {
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const b = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return b;
}

export async function startTestDnsServer(records: Record<string, string[]> = {}): Promise<TestDnsServer> {
  const sock = dgram.createSocket("udp4");
  const server: TestDnsServer = {
    address: "",
    records: new Map(Object.entries(records)),
    silent: false,
    queries: [],
    close: () => sock.close(),
  };
  sock.on("message", (msg, peer) => {
    const labels: string[] = [];
    let i = 12;
    while (i < msg.length && msg[i]) {
      labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString("latin1"));
      i += msg[i]! + 1;
    }
    const questionEnd = i + 5;
    const qtype = msg.readUInt16BE(i + 1);
    const name = labels.join(".").toLowerCase();
    server.queries.push(name);
    if (server.silent) return;
    const known = server.records.get(name);
    const ips = (known ?? []).filter((ip) => (qtype === 1 ? isIPv4(ip) : qtype === 28 && !isIPv4(ip)));
    const head = Buffer.alloc(12);
    head.writeUInt16BE(msg.readUInt16BE(0), 0);
    head.writeUInt16BE(known ? 0x8580 : 0x8583, 2); // response, authoritative, recursion available; rcode 0 or 3 (NXDOMAIN)
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(ips.length, 6);
    const answers = ips.map((ip) => {
      const data = isIPv4(ip) ? Buffer.from(ip.split(".").map(Number)) : ipv6Bytes(ip);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0: a resolver's cache never answers for this server
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    sock.send(Buffer.concat([head, msg.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  server.address = `127.0.0.1:${(sock.address() as { port: number }).port}`;
  return server;
}
