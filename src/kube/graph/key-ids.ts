// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * The reconciler's resource keys interned into small integer ids, and relationship pairs packed
 * into one number (type and both ends' ids), so its per-object state holds numbers instead of
 * ~120-character pair strings (at 10k pods the pair strings alone were ~6 MB of the JS heap).
 * Each id is reference-counted by whoever holds it (the object's own entry, a live pair's two ends,
 * a pending write's two ends); at zero the key is dropped and the id reused, so churn does not grow
 * the table. Ids stay below 2^25 (33M live keys), so a pair fits a double exactly:
 * type * 2^50 + a * 2^25 + b.
 */

const ID_BITS = 2 ** 25;
const TYPE_SHIFT = 2 ** 50;

export class KeyIds {
  private readonly ids = new Map<string, number>();
  private readonly keys: Array<string | undefined> = [];
  private readonly uses: number[] = [];
  private readonly free: number[] = [];
  /** Ids created by intern() and not yet checked by releaseUnused(). */
  private fresh: number[] = [];

  /** The id of `key`, created (unreferenced) if new; see releaseUnused(). */
  intern(key: string): number {
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    id = this.free.pop() ?? this.keys.length;
    if (id >= ID_BITS) throw new Error(`more than ${ID_BITS} resource keys interned`);
    this.ids.set(key, id);
    this.keys[id] = key;
    this.uses[id] = 0;
    this.fresh.push(id);
    return id;
  }

  /** The id of `key` if interned. */
  lookup(key: string): number | undefined {
    return this.ids.get(key);
  }

  key(id: number): string {
    const k = this.keys[id];
    if (k === undefined) throw new Error(`resource key id ${id} is not interned`);
    return k;
  }

  retain(id: number): void {
    this.uses[id]!++;
  }

  release(id: number): void {
    const n = --this.uses[id]!;
    if (n === 0) this.drop(id);
    else if (n < 0) throw new Error(`resource key id ${id} released more often than retained`);
  }

  /** Drops the ids interned since the last call that nothing retained (an update that failed half way). */
  releaseUnused(): void {
    const fresh = this.fresh;
    this.fresh = [];
    for (const id of fresh) if (this.uses[id] === 0 && this.keys[id] !== undefined) this.drop(id);
  }

  /** Keys interned now. */
  get size(): number {
    return this.ids.size;
  }

  private drop(id: number): void {
    this.ids.delete(this.keys[id]!);
    this.keys[id] = undefined;
    this.free.push(id);
  }
}

/** Pair id: the pair type's index and its two ends' ids (subject of the forward predicate first). */
export function packPair(type: number, a: number, b: number): number {
  return type * TYPE_SHIFT + a * ID_BITS + b;
}

export function pairType(p: number): number {
  return Math.floor(p / TYPE_SHIFT);
}

export function pairA(p: number): number {
  return Math.floor(p / ID_BITS) % ID_BITS;
}

export function pairB(p: number): number {
  return p % ID_BITS;
}
