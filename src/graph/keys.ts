// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The graph's one key function: resource keys (encode/decode, compatible with the original's
// encode.go) and relationship identity, used by every source, the store and the CLI.

import { create, equals } from "@bufbuild/protobuf";
import { type Namespace, NamespaceSchema } from "../proto/gen/resource/v1/namespace_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { RELATIONSHIP_KIND } from "./names.ts";

/** Input the graph refuses (missing type, bad key, missing predicate...). Nothing was written. */
export class InvalidInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidInputError";
  }
}

/**
 * Resource keys, compatible with the original's `encode.go`:
 *   key = <type_url> "/" base64url(namePath), base64url WITH '=' padding (Go base64.URLEncoding),
 *   namePath = name                                  (no namespace)
 *            | cloud/<account_id>/<region>/<group>/<name>
 *            | kube/<cluster>/<namespace>/<name>      (cluster-scoped: kube/<cluster>//<name>)
 *            | host/<host>/<container>/<name>         (ours: the Go agent fell back to `name`, which made
 *                                                      the same name on two hosts collide)
 * Decoding uses the same URL alphabet (the original decoded with StdEncoding). The type_url may
 * itself contain '/', so the key splits at its last '/'. A name that contains '/' decodes back
 * whole (the original needed exactly 4/3 parts). A namespace-less name that starts with
 * "cloud/", "kube/" or "host/" decodes as that namespace, as in the original.
 */

const PAD = ["", "===", "==", "="];

/** Go's base64.URLEncoding: URL alphabet with '=' padding (Node's "base64url" drops the padding). */
function b64url(s: string): string {
  const out = Buffer.from(s, "utf8").toString("base64url");
  return out + PAD[out.length % 4]!;
}

const B64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

function unb64url(s: string): string {
  if (!B64URL.test(s)) throw new InvalidInputError(`invalid resource key: name part is not padded base64url: ${s}`);
  return Buffer.from(s, "base64url").toString("utf8");
}

export function namePath(name: string, ns: Namespace | undefined): string {
  const n = ns?.namespace;
  switch (n?.case) {
    case "cloud":
      return `cloud/${n.value.account?.accountId ?? ""}/${n.value.region}/${n.value.group}/${name}`;
    case "kube":
      return `kube/${n.value.cluster}/${n.value.namespace}/${name}`;
    case "host":
      return `host/${n.value.host}/${n.value.container}/${name}`;
    default:
      return name;
  }
}

export function encodeKey(typeUrl: string, name: string, ns: Namespace | undefined): string {
  if (!typeUrl) throw new InvalidInputError("missing type");
  return `${typeUrl}/${b64url(namePath(name, ns))}`;
}

/** Keys of shared (deep-frozen) refs, computed once: a pod's ref is in 8 relationships of a sync. */
const sharedRefKeys = new WeakMap<ResourceRef, string>();

export function encodeResourceKey(ref: ResourceRef): string {
  if (!Object.isFrozen(ref)) return encodeKey(ref.typeUrl, ref.name, ref.namespace);
  let key = sharedRefKeys.get(ref);
  if (key === undefined) {
    key = encodeKey(ref.typeUrl, ref.name, ref.namespace);
    sharedRefKeys.set(ref, key);
  }
  return key;
}

/**
 * Freezes `msg` and every message under it, for a message shared between many others (a ref in
 * every relationship of its object, a predicate, a type descriptor): a frozen message cannot
 * change, so its key (encodeResourceKey) and its bytes (src/store/relationship-encode.ts) are
 * computed once and kept beside it. Writing to it afterwards throws a TypeError.
 */
export function freezeShared<T extends object>(msg: T): Readonly<T> {
  for (const v of Object.values(msg)) {
    if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v) && !Object.isFrozen(v)) freezeShared(v);
  }
  return Object.freeze(msg);
}

/** The ref of a resource: (type.type, metadata.name, metadata.namespace), the fields its key is built from. */
export function resourceRefOf(r: Resource): ResourceRef {
  return create(ResourceRefSchema, { typeUrl: r.type?.type ?? "", name: r.metadata?.name ?? "", namespace: r.metadata?.namespace });
}

/** The stored key of a resource (throws InvalidInputError without a type). */
export function resourceKeyOf(r: Resource): string {
  return encodeKey(r.type?.type ?? "", r.metadata?.name ?? "", r.metadata?.namespace);
}

/**
 * "<type_url>/<name path>": the key before its name path is base64-encoded. Readable, and sorts
 * by type then namespace then name, so builders use it to order their output deterministically.
 */
export function refPath(ref: ResourceRef | undefined): string {
  return ref ? `${ref.typeUrl}/${namePath(ref.name, ref.namespace)}` : "";
}

export function decodeResourceKey(key: string): ResourceRef {
  const slash = key.lastIndexOf("/");
  if (slash <= 0) throw new InvalidInputError(`invalid resource key: ${key}`);
  const typeUrl = key.slice(0, slash);
  const path = unb64url(key.slice(slash + 1));
  const parts = path.split("/");
  const rest = (n: number) => parts.slice(n).join("/");
  if (parts[0] === "cloud" && parts.length >= 5) {
    const accountId = parts[1]!;
    return create(ResourceRefSchema, {
      typeUrl,
      name: rest(4),
      namespace: create(NamespaceSchema, {
        namespace: {
          case: "cloud",
          value: { account: accountId ? { accountId } : undefined, region: parts[2]!, group: parts[3]! },
        },
      }),
    });
  }
  if ((parts[0] === "kube" || parts[0] === "host") && parts.length >= 4) {
    const namespace =
      parts[0] === "kube"
        ? create(NamespaceSchema, { namespace: { case: "kube", value: { cluster: parts[1]!, namespace: parts[2]! } } })
        : create(NamespaceSchema, { namespace: { case: "host", value: { host: parts[1]!, container: parts[2]! } } });
    return create(ResourceRefSchema, { typeUrl, name: rest(3), namespace });
  }
  return create(ResourceRefSchema, { typeUrl, name: path });
}

/** Strips "type.googleapis.com/" (anything up to the last '/') from an Any type_url: the full proto name. */
export function protoName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

const enc = new TextEncoder();

/**
 * Relationship identity as a readable string, for in-memory diffs and dedupe: the fields of
 * relationshipId (subject, type.kind, type.type, predicate type_url and value, object). Sorting by
 * it orders relationships by subject, then predicate.
 */
export function relationshipKey(rel: Relationship): string {
  const value = rel.predicate?.value ? Buffer.from(rel.predicate.value).toString("hex") : "";
  return `${refPath(rel.subject)}|${rel.type?.kind ?? ""}|${rel.type?.type ?? ""}|${rel.predicate?.typeUrl ?? ""}:${value}|${refPath(rel.object)}`;
}

/**
 * Relationship identity as stored: sha256 over a length-prefixed encoding of (type.kind, type.type, subject
 * key, object key, predicate type_url, predicate value). Timestamps and the id field do not count,
 * so re-adding the same triple later dedupes.
 */
export function relationshipId(rel: Relationship, subjectKey: string, objectKey: string): Uint8Array {
  let n = 0;
  n = putString(n, rel.type?.kind ?? "");
  n = putString(n, rel.type?.type ?? "");
  n = putString(n, subjectKey);
  n = putString(n, objectKey);
  n = putString(n, rel.predicate?.typeUrl ?? "");
  n = putBytes(n, rel.predicate?.value ?? EMPTY);
  return Bun.CryptoHasher.hash("sha256", idInput.subarray(0, n), new Uint8Array(32)) as Uint8Array;
}

// relationshipId's pre-image is built in one reused buffer (no per-field arrays: 80k ids in a 10k-pod sync)
const EMPTY = new Uint8Array(0);
let idInput = new Uint8Array(1024);

function reserve(at: number, bytes: number): void {
  if (at + bytes <= idInput.length) return;
  const grown = new Uint8Array(Math.max(idInput.length * 2, at + bytes));
  grown.set(idInput.subarray(0, at));
  idInput = grown;
}

function putLength(at: number, len: number): void {
  idInput[at] = len >>> 24;
  idInput[at + 1] = (len >>> 16) & 0xff;
  idInput[at + 2] = (len >>> 8) & 0xff;
  idInput[at + 3] = len & 0xff;
}

/** 4-byte big-endian UTF-8 length, then the UTF-8 bytes; returns the new end. */
function putString(at: number, s: string): number {
  reserve(at, 4 + s.length * 3);
  let o = at + 4;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      // not ASCII: let the encoder handle surrogates and replacement characters
      o = at + 4 + enc.encodeInto(s, idInput.subarray(at + 4)).written;
      break;
    }
    idInput[o++] = c;
  }
  putLength(at, o - at - 4);
  return o;
}

function putBytes(at: number, b: Uint8Array): number {
  reserve(at, 4 + b.length);
  putLength(at, b.length);
  idInput.set(b, at + 4);
  return at + 4 + b.length;
}

export interface RelationshipIdentity {
  /** relationshipId: what the store dedupes on. */
  id: Uint8Array;
  subjectKey: string;
  objectKey: string;
  /** type.kind, default resource.v1.Relationship. */
  kind: string;
  /** type.type, default the predicate's proto name. */
  type: string;
  /** The predicate's full proto name. */
  pred: string;
}

/**
 * Validates a relationship (a predicate, both ends, no self-loop; else InvalidInputError) and
 * computes its keys and identity.
 */
export function relationshipIdentity(rel: Relationship): RelationshipIdentity {
  if (!rel.predicate) throw new InvalidInputError("relationship: missing predicate");
  if (!rel.subject || !rel.object) throw new InvalidInputError("relationship: missing subject or object");
  const subjectKey = encodeResourceKey(rel.subject);
  const objectKey = encodeResourceKey(rel.object);
  // equal refs have equal keys; the reflective compare only where the keys are equal
  if (subjectKey === objectKey && equals(ResourceRefSchema, rel.subject, rel.object)) {
    throw new InvalidInputError("relationship: subject equals object");
  }
  const pred = protoName(rel.predicate.typeUrl);
  return {
    id: relationshipId(rel, subjectKey, objectKey),
    subjectKey,
    objectKey,
    kind: rel.type?.kind || RELATIONSHIP_KIND,
    type: rel.type?.type || pred,
    pred,
  };
}
