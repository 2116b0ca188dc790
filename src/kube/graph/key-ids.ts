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
 * type * 2^50 + a * 2^25 + b. PairCounts holds the pairs' reference counts in typed arrays.
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

/**
 * Pair id -> count, in two typed arrays (open addressing, linear probing, deletion by backward
 * shift): ~12 bytes a slot where a Map<number, number> entry took ~170 bytes. Grows at 3/4 full,
 * shrinks below 1/8, so churn does not leave it large.
 */
export class PairCounts {
  private keys = new Float64Array(MIN_SLOTS);
  private counts = new Uint32Array(MIN_SLOTS);
  private n = 0;

  get size(): number {
    return this.n;
  }

  get(p: number): number {
    const i = this.find(p);
    return i < 0 ? 0 : this.counts[i]!;
  }

  has(p: number): boolean {
    return this.find(p) >= 0;
  }

  /** Sets the count of `p` (at least 1). */
  set(p: number, count: number): void {
    if (!(count >= 1)) throw new Error(`pair count must be at least 1, got ${count}`);
    const i = this.find(p);
    if (i >= 0) {
      this.counts[i] = count;
      return;
    }
    if ((this.n + 1) * 4 > this.keys.length * 3) this.resize(this.keys.length * 2);
    const mask = this.keys.length - 1;
    let j = home(p, mask);
    while (this.counts[j] !== 0) j = (j + 1) & mask;
    this.keys[j] = p;
    this.counts[j] = count;
    this.n++;
  }

  delete(p: number): boolean {
    let i = this.find(p);
    if (i < 0) return false;
    const mask = this.keys.length - 1;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.counts[j] === 0) break;
      const k = home(this.keys[j]!, mask);
      // the entry at j may move back to i unless its home slot lies cyclically in (i, j]
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      this.keys[i] = this.keys[j]!;
      this.counts[i] = this.counts[j]!;
      i = j;
    }
    this.keys[i] = 0;
    this.counts[i] = 0;
    this.n--;
    if (this.keys.length > MIN_SLOTS && this.n * 8 < this.keys.length) this.resize(this.keys.length / 2);
    return true;
  }

  private find(p: number): number {
    const mask = this.keys.length - 1;
    let i = home(p, mask);
    while (this.counts[i] !== 0) {
      if (this.keys[i] === p) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  private resize(slots: number): void {
    const keys = this.keys;
    const counts = this.counts;
    this.keys = new Float64Array(slots);
    this.counts = new Uint32Array(slots);
    const mask = slots - 1;
    for (let i = 0; i < keys.length; i++) {
      if (counts[i] === 0) continue;
      let j = home(keys[i]!, mask);
      while (this.counts[j] !== 0) j = (j + 1) & mask;
      this.keys[j] = keys[i]!;
      this.counts[j] = counts[i]!;
    }
  }
}

const MIN_SLOTS = 64;

function home(p: number, mask: number): number {
  let h = Math.imul(pairA(p) ^ Math.imul(pairB(p), 0x9e3779b1) ^ Math.imul(pairType(p) + 1, 0x27d4eb2d), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 13;
  return h & mask;
}
