/**
 * Tahoe's per-file server order (spec: tahoe-lafs `storage_client.py`,
 * `hashutil.permute_server_hash`; shared/specs/tahoe-formats.md §7): servers sorted by
 * SHA1(storage index ‖ permutation seed), ascending byte order. Spreads each file's
 * shares over different servers while every client computes the same order.
 */
import { base32Decode } from '../crypto/base32.js';
import { sha1, sha256 } from '../crypto/hashes.js';

/**
 * The permutation seed of a server: the announced `permutation-seed-base32` decoded (for
 * 1.20 servers that is the ASCII of their base32 key — decode what is announced, do not
 * "fix" it); else the 32 key bytes of a `v0-` server id; else SHA-256 of the id.
 */
export function permutationSeed(serverId: string, announcedSeedBase32?: string): Buffer {
  if (announcedSeedBase32 !== undefined) return base32Decode(announcedSeedBase32, 'permutation-seed-base32');
  const m = /^v0-([a-z2-7]{52})$/.exec(serverId);
  if (m) return base32Decode(m[1], 'server id');
  return sha256(Buffer.from(serverId, 'utf8'));
}

export function permuteServerHash(storageIndex: Uint8Array, seed: Uint8Array): Buffer {
  return sha1(storageIndex, seed);
}

/** Sort servers into this storage index's permuted order (does not modify the input). */
export function permutedServers<T extends { readonly permutationSeed: Uint8Array }>(servers: readonly T[], storageIndex: Uint8Array): T[] {
  return servers
    .map((s) => ({ s, key: permuteServerHash(storageIndex, s.permutationSeed) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ s }) => s);
}
