/**
 * The storage server's announcement: the dict a storage server publishes through an
 * introducer, and the `private/servers.yaml` entry with which a real Tahoe-LAFS 1.20
 * client can use this server without an introducer.
 *
 * Spec: shared/specs/storage-protocol.md §7 (keys and their 1.20 values; the fURL is
 * mandatory even for HTTPS; NURLs are a set on the wire, a list in JSON/YAML; the
 * permutation-seed quirk: base32 of the ASCII base32 public key, 84 characters) and
 * tahoe-formats.md §7. The announcement holds the swissnum (in the fURL and NURLs): it
 * is a secret shared with the grid, never logged.
 */
import { randomBytes } from 'node:crypto';
import { Document } from 'yaml';
import { base32Encode } from '../crypto/base32.js';
import { APPLICATION_VERSION } from './version.js';

export interface StorageAnnouncementInput {
  nickname: string;
  /** `pb://<tubid>@<hints>/<swissnum>`. */
  furl: string;
  /** `pb://…#v=1` NURLs, one per tcp:/tor: hint. */
  nurls: readonly string[];
  /** The node's `permutation-seed` value (84 characters for a 1.20-style server). */
  permutationSeedBase32: string;
  /** Increases with every publication (persisted by the publisher). Default 1. */
  seqnum?: number;
  /** Fresh random base32 per publication; generated when omitted. */
  nonce?: string;
  /** `my-version`; default `tahoe-ts/<version>`. */
  myVersion?: string;
}

/** The full announcement dict, with 1.20's key set and value shapes. */
export function buildStorageAnnouncement(input: StorageAnnouncementInput): Record<string, unknown> {
  return {
    version: 0,
    nickname: input.nickname,
    'app-versions': [],
    'my-version': input.myVersion ?? APPLICATION_VERSION,
    'oldest-supported': '1.0.0',
    'service-name': 'storage',
    seqnum: input.seqnum ?? 1,
    nonce: input.nonce ?? base32Encode(randomBytes(32)),
    'anonymous-storage-FURL': input.furl,
    'anonymous-storage-NURLs': [...input.nurls],
    'permutation-seed-base32': input.permutationSeedBase32,
  };
}

/**
 * The part of the announcement a client's `private/servers.yaml` needs (1.20 reads
 * `ann` and takes nickname, FURL, NURLs and permutation seed from it).
 */
export function serversYamlAnnouncement(input: StorageAnnouncementInput): Record<string, unknown> {
  return {
    nickname: input.nickname,
    'anonymous-storage-FURL': input.furl,
    'anonymous-storage-NURLs': [...input.nurls],
    'permutation-seed-base32': input.permutationSeedBase32,
  };
}

/**
 * A complete `private/servers.yaml` document listing this one server:
 * `storage: { <server id>: { ann: { … } } }`. Merge it into an existing file by hand.
 */
export function formatServersYaml(serverId: string, input: StorageAnnouncementInput): string {
  const doc = new Document({ storage: { [serverId]: { ann: serversYamlAnnouncement(input) } } }, { version: '1.1' });
  // Double-quoted strings: PyYAML reads YAML 1.1, where a bare `no` or `on` is a boolean.
  return doc.toString({ defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
}
