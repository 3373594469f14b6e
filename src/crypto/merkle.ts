/**
 * Merkle hash trees exactly as Tahoe-LAFS builds them (spec: shared/specs/tahoe-formats.md §2;
 * upstream `src/allmydata/hashtree.py`, `docs/specifications/file-encoding.rst`).
 *
 * A tree over m leaves is padded to n = next_pow2(m) leaves with "empty leaf" hashes and
 * stored as a flat breadth-first array of 2n−1 nodes: node 0 is the root, the children of
 * node i are 2i+1 and 2i+2, leaf j is node n−1+j. Shares carry these arrays verbatim, so the
 * indices are part of the wire format.
 *
 * `HashTree` is the complete tree an uploader builds. `IncompleteHashTree` is what a
 * downloader fills in: it starts from a trusted root and accepts further hashes only when
 * they chain up to something already verified.
 */
import { TahoeError, type ErrorKind } from '../errors.js';
import { TAGS, taggedHash, taggedPairHash } from './hashes.js';

export const HASH_SIZE = 32;

/** Smallest power of two ≥ x (next_pow2(0) = next_pow2(1) = 1). */
export function nextPowerOfTwo(x: number): number {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

/** Padding leaf j of a tree: `tagged_hash("Merkle tree empty leaf", dec(j))`. */
export function emptyLeafHash(leafIndex: number): Buffer {
  return taggedHash(TAGS.MERKLE_EMPTY_LEAF, String(leafIndex));
}

export function internalNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return taggedPairHash(TAGS.MERKLE_INTERNAL, left, right);
}

/** Number of nodes in the stored array of a tree over `leafCount` leaves: 2·next_pow2(m) − 1. */
export function treeNodeCount(leafCount: number): number {
  return 2 * nextPowerOfTwo(leafCount) - 1;
}

export function parentOf(node: number): number {
  return (node - 1) >> 1;
}

export function siblingOf(node: number): number {
  return node % 2 === 1 ? node + 1 : node - 1;
}

/** Depth of the tree (edges from a leaf to the root): log2(next_pow2(m)). */
export function treeDepth(leafCount: number): number {
  return Math.log2(nextPowerOfTwo(leafCount));
}

/**
 * The node indices a verifier needs, beside the trusted root, to check leaf `leaf`: the
 * sibling of every node on the path from the leaf up to (not including) the root, plus the
 * leaf itself when `includeLeaf`. Returned in ascending order.
 */
export function neededHashes(leafCount: number, leaf: number, includeLeaf = false): number[] {
  const width = nextPowerOfTwo(leafCount);
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= width) {
    throw new TahoeError('Internal', `leaf ${leaf} is outside a tree of ${width} leaves`);
  }
  const needed: number[] = [];
  let node = width - 1 + leaf;
  if (includeLeaf) needed.push(node);
  while (node !== 0) {
    needed.push(siblingOf(node));
    node = parentOf(node);
  }
  return needed.sort((a, b) => a - b);
}

/** A complete tree over known leaves (the uploader's view). */
export class HashTree {
  /** Breadth-first node array, 2·next_pow2(m) − 1 entries of 32 bytes. */
  readonly nodes: readonly Buffer[];
  /** Number of real (unpadded) leaves. */
  readonly leafCount: number;

  constructor(leaves: readonly Uint8Array[]) {
    if (leaves.length === 0) throw new TahoeError('Internal', 'a hash tree needs at least one leaf');
    const width = nextPowerOfTwo(leaves.length);
    const nodes = new Array<Buffer>(2 * width - 1);
    for (let j = 0; j < width; j++) {
      const leaf = j < leaves.length ? leaves[j] : emptyLeafHash(j);
      if (leaf.length !== HASH_SIZE) throw new TahoeError('Internal', `hash tree leaf ${j} is ${leaf.length} bytes, not ${HASH_SIZE}`);
      nodes[width - 1 + j] = Buffer.from(leaf);
    }
    for (let i = width - 2; i >= 0; i--) nodes[i] = internalNodeHash(nodes[2 * i + 1], nodes[2 * i + 2]);
    this.nodes = nodes;
    this.leafCount = leaves.length;
  }

  get root(): Buffer {
    return this.nodes[0];
  }

  /** The whole array concatenated, as stored in a share. */
  serialize(): Buffer {
    return Buffer.concat(this.nodes);
  }

  neededHashes(leaf: number, includeLeaf = false): number[] {
    return neededHashes(this.leafCount, leaf, includeLeaf);
  }
}

export interface HashTreeErrorContext {
  /** Kind to throw when offered hashes are wrong or cannot be verified (default IntegrityError). */
  kind?: Extract<ErrorKind, 'ShareCorrupt' | 'IntegrityError'>;
  /** What the tree is, for messages: "block hash tree of share 3". */
  what?: string;
  hint?: string;
  details?: Record<string, string | number | boolean | undefined>;
}

/**
 * A partially known tree, anchored at a trusted root. Hashes offered through `addHashes`
 * are accepted all-or-nothing: each must chain, through siblings that are known or offered
 * in the same call, up to a node already verified; otherwise nothing is stored and a
 * TahoeError (`ShareCorrupt` or `IntegrityError`) is thrown.
 */
export class IncompleteHashTree {
  readonly leafCount: number;
  readonly width: number;
  readonly nodeCount: number;
  private readonly verified = new Map<number, Buffer>();

  constructor(leafCount: number, root?: Uint8Array) {
    if (!Number.isSafeInteger(leafCount) || leafCount < 1) throw new TahoeError('Internal', `bad leaf count ${leafCount}`);
    this.leafCount = leafCount;
    this.width = nextPowerOfTwo(leafCount);
    this.nodeCount = 2 * this.width - 1;
    if (root !== undefined) this.setRoot(root);
  }

  /** Install the trusted root (from a cap, a UEB or a parent tree). */
  setRoot(root: Uint8Array): void {
    if (root.length !== HASH_SIZE) throw new TahoeError('Internal', `root hash must be ${HASH_SIZE} bytes`);
    const existing = this.verified.get(0);
    if (existing !== undefined && !existing.equals(root)) throw new TahoeError('Internal', 'hash tree root set twice with different values');
    this.verified.set(0, Buffer.from(root));
  }

  has(node: number): boolean {
    return this.verified.has(node);
  }

  /** A verified node hash, or undefined. */
  get(node: number): Buffer | undefined {
    return this.verified.get(node);
  }

  leafNode(leaf: number): number {
    return this.width - 1 + leaf;
  }

  /** A verified leaf hash, or undefined. */
  getLeaf(leaf: number): Buffer | undefined {
    return this.verified.get(this.leafNode(leaf));
  }

  /**
   * Node indices still needed (not yet verified) to check the given leaves, excluding the
   * leaves themselves unless `includeLeaves`. Ascending.
   */
  missingHashes(leaves: Iterable<number>, includeLeaves = false): number[] {
    const missing = new Set<number>();
    for (const leaf of leaves) {
      for (const node of neededHashes(this.leafCount, leaf, includeLeaves)) {
        if (!this.verified.has(node)) missing.add(node);
      }
    }
    return [...missing].sort((a, b) => a - b);
  }

  /**
   * Offer node hashes (node index → 32 bytes). Throws, storing nothing, when any offered
   * hash contradicts a known one, does not match its recomputed parent, or cannot be
   * linked to a verified node.
   */
  addHashes(hashes: ReadonlyMap<number, Uint8Array>, context: HashTreeErrorContext = {}): void {
    if (!this.verified.has(0)) throw new TahoeError('Internal', 'hash tree has no trusted root yet');
    const fail = (reason: string, node: number): TahoeError => treeError(context, reason, node);
    // New hashes live in `pending` until everything checks out; verified ones stay put.
    const pending = new Map<number, Buffer>();
    const lookup = (node: number): Buffer | undefined => pending.get(node) ?? this.verified.get(node);
    for (const [node, hash] of hashes) {
      if (!Number.isInteger(node) || node < 0 || node >= this.nodeCount) throw fail(`node index out of range 0..${this.nodeCount - 1}`, node);
      if (hash.length !== HASH_SIZE) throw fail(`hash is ${hash.length} bytes, not ${HASH_SIZE}`, node);
      const known = lookup(node);
      if (known !== undefined) {
        if (!known.equals(hash)) throw fail('hash differs from the verified value', node);
      } else {
        pending.set(node, Buffer.from(hash));
      }
    }
    // Sweep level by level from the leaves up, so both children of a pair are known before
    // their parent is looked at: compute every parent whose children are both known and
    // check it against what is there, or add it (and look at its own pair one level up).
    const byLevel: Array<Set<number>> = [];
    const levelOf = (node: number): number => 31 - Math.clz32(node + 1);
    for (const node of pending.keys()) (byLevel[levelOf(node)] ??= new Set()).add(node);
    for (let level = byLevel.length - 1; level > 0; level--) {
      const nodes = byLevel[level];
      if (nodes === undefined) continue;
      const donePairs = new Set<number>();
      for (const node of nodes) {
        const parent = parentOf(node);
        if (donePairs.has(parent)) continue;
        donePairs.add(parent);
        const left = lookup(2 * parent + 1);
        const right = lookup(2 * parent + 2);
        if (left === undefined || right === undefined) continue;
        const computed = internalNodeHash(left, right);
        const present = lookup(parent);
        if (present === undefined) {
          pending.set(parent, computed);
          (byLevel[level - 1] ??= new Set()).add(parent);
        } else if (!present.equals(computed)) {
          throw fail('hashes do not match their parent', parent);
        }
      }
    }
    // Every offered node must reach a node that was verified before this call; the sweep
    // has checked each step on the way.
    for (const node of hashes.keys()) {
      let here = node;
      while (!this.verified.has(here)) {
        if (lookup(siblingOf(here)) === undefined) throw fail('not enough hashes to verify this one', node);
        here = parentOf(here);
      }
    }
    for (const [node, hash] of pending) this.verified.set(node, hash);
  }

  /** Verify a leaf value (e.g. a block hash computed from downloaded data). */
  setLeaf(leaf: number, hash: Uint8Array, context: HashTreeErrorContext = {}): void {
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) throw new TahoeError('Internal', `leaf ${leaf} out of range`);
    const known = this.verified.get(this.leafNode(leaf));
    if (known !== undefined && !known.equals(hash)) throw treeError(context, 'does not match its verified hash', this.leafNode(leaf));
    this.addHashes(new Map([[this.leafNode(leaf), hash]]), context);
  }
}

function treeError(context: HashTreeErrorContext, reason: string, node: number): TahoeError {
  return new TahoeError(context.kind ?? 'IntegrityError', `${context.what ?? 'hash tree'}: ${reason} (node ${node})`, {
    hint: context.hint,
    details: { ...context.details, node, reason },
  });
}
