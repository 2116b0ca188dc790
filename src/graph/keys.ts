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

export function encodeResourceKey(ref: ResourceRef): string {
  return encodeKey(ref.typeUrl, ref.name, ref.namespace);
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
  const h = new Bun.CryptoHasher("sha256");
  const put = (b: Uint8Array) => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    h.update(len);
    h.update(b);
  };
  put(enc.encode(rel.type?.kind ?? ""));
  put(enc.encode(rel.type?.type ?? ""));
  put(enc.encode(subjectKey));
  put(enc.encode(objectKey));
  put(enc.encode(rel.predicate?.typeUrl ?? ""));
  put(rel.predicate?.value ?? new Uint8Array());
  return new Uint8Array(h.digest());
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
  if (equals(ResourceRefSchema, rel.subject, rel.object)) throw new InvalidInputError("relationship: subject equals object");
  const subjectKey = encodeResourceKey(rel.subject);
  const objectKey = encodeResourceKey(rel.object);
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
