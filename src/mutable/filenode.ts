/**
 * The pure face of a mutable file for the grid layer (spec: shared/specs/tahoe-formats.md
 * §4; upstream `docs/specifications/mutable.rst`, `mutable/filenode.py`, `publish.py`):
 * create, overwrite and partially update, each returning the encoded version and the
 * read-test-write plans to send; reading goes through decoder.ts (`inspectShares`,
 * `retrieveBest`). Nothing here does I/O except through the `ShareReader`s it is given.
 *
 * Typical grid flows:
 *   create:    createMutable(bytes, {format, k, n}) → send `plans` (each tests "no share yet")
 *   read:      inspectShares(cap, readers) → bestRecoverableVersion → retrieveVersion
 *   overwrite: recoverSigningKey(writeCap, share) → overwriteMutable({…, known}) → send plans
 *   update:    planMdmfUpdate({cap, key, version, offset, data}) → send plans
 * After sending, `interpretWriteResponse` per server tells success from a conflict.
 */
import { TahoeError } from '../errors.js';
import { generateSigningKey, keyMaterialOf, type MutableSigningKey } from './keys.js';
import { mutableWriteCap, type MutableFormat, type MutableWriteCap } from './caps.js';
import { checkMutableParameters, encodeMutableVersion, type EncodedMutableVersion } from './encoder.js';
import { planPublish, type KnownCheckstrings, type ShareWritePlan } from './update.js';
import { recoverSigningKey, type MutableVersion } from './decoder.js';

export interface CreateMutableOptions {
  /** Default SDMF, like Tahoe's `[client] mutable.format`. */
  readonly format?: MutableFormat;
  /** Default 3. */
  readonly k?: number;
  /** Default 10. */
  readonly n?: number;
  /** Use this key pair instead of generating one (tests, re-creating a known file). */
  readonly key?: MutableSigningKey;
  readonly saltFor?: (segment: number) => Uint8Array;
}

export interface CreatedMutable {
  readonly cap: MutableWriteCap;
  readonly key: MutableSigningKey;
  readonly version: EncodedMutableVersion;
  /** One plan per share, each requiring that the share does not exist yet. */
  readonly plans: readonly ShareWritePlan[];
}

/** A new mutable file: key pair, write cap, shares of seqnum 1 and their write plans. */
export async function createMutable(plaintext: Uint8Array, options: CreateMutableOptions = {}): Promise<CreatedMutable> {
  const format = options.format ?? 'SDMF';
  const k = options.k ?? 3;
  const n = options.n ?? 10;
  checkMutableParameters({ format, k, n });
  const key = options.key ?? await generateSigningKey();
  const material = keyMaterialOf(key);
  const cap = mutableWriteCap(format, material.writekey, material.fingerprint);
  const version = encodeMutableVersion(cap, key, plaintext, { format, k, n, seqnum: 1, saltFor: options.saltFor });
  return { cap, key, version, plans: planPublish(version) };
}

export interface OverwriteOptions {
  readonly cap: MutableWriteCap;
  readonly key: MutableSigningKey;
  readonly plaintext: Uint8Array;
  /** The highest seqnum seen on any server (the new version gets one more). */
  readonly highestSeqnum: number;
  /** Keep the encoding of the current version (Tahoe does), or choose new parameters. */
  readonly k: number;
  readonly n: number;
  /** Checkstrings the servers are believed to hold, per share number (absent: new share). */
  readonly known?: KnownCheckstrings;
  readonly saltFor?: (segment: number) => Uint8Array;
}

/** Replace the whole contents (any format): a new version with seqnum = highest + 1. */
export function overwriteMutable(options: OverwriteOptions): { version: EncodedMutableVersion; plans: ShareWritePlan[] } {
  if (!Number.isSafeInteger(options.highestSeqnum) || options.highestSeqnum < 0) {
    throw new TahoeError('Internal', `bad highest seqnum ${options.highestSeqnum}`);
  }
  const version = encodeMutableVersion(options.cap, options.key, options.plaintext, {
    format: options.cap.format, k: options.k, n: options.n, seqnum: options.highestSeqnum + 1, saltFor: options.saltFor,
  });
  return { version, plans: planPublish(version, options.known) };
}

/** The signing key of a file, from the first share of `version` whose private key checks out. */
export async function signingKeyFromVersion(cap: MutableWriteCap, version: MutableVersion, signal?: AbortSignal): Promise<MutableSigningKey> {
  let last: unknown;
  for (const share of version.shares) {
    try {
      return await recoverSigningKey(cap, share, signal);
    } catch (e) {
      last = e;
    }
  }
  throw new TahoeError('NotEnoughShares', 'no share holds a valid copy of the private key', {
    hint: 'the file can be read but not changed until it is repaired',
    cause: last,
  });
}
