/**
 * Storage-server announcements: validation of the dict a server publishes (through the
 * introducer, or copied into `private/servers.yaml`) into what the broker needs.
 *
 * Spec: shared/specs/storage-protocol.md §7 (announcement keys; the fURL is mandatory even
 * for HTTPS because its TubID seeds lease secrets and write enablers; NURLs are a set on
 * the wire, a list in JSON/YAML; the permutation-seed quirk), tahoe-formats.md §6–§7.
 *
 * Tahoe 1.20 is lenient about what it cannot use (an unknown hint, a bad NURL) and strict
 * about what it must have (a fURL whose TubID decodes). So are we: an announcement without
 * a usable fURL is refused with a `BadInput`; a bad NURL is skipped and reported so the
 * status page can say why a server cannot be reached. Nothing here is ever logged whole:
 * fURLs and NURLs carry the storage swissnum.
 */
import { TahoeError, isTahoeError } from '../errors.js';
import { base32Decode } from '../crypto/base32.js';
import { parseFurl, parseNurl, type Furl, type Nurl } from '../net/hints.js';
import { permutationSeed } from './permute.js';

export interface StorageAnnouncement {
  serverId: string;
  /** Printable nickname (control characters removed, at most 64 characters). */
  nickname: string;
  /** The storage fURL. Secret (swissnum): never log it. */
  furl: Furl;
  /** The 20 raw TubID bytes: lease secrets are derived from them. */
  tubId: Buffer;
  /** Valid NURLs, in announced order. Secret (swissnum). */
  nurls: Nurl[];
  /** Why other announced NURLs were skipped (no secrets in these strings). */
  skippedNurls: string[];
  permutationSeed: Buffer;
  seqnum?: number;
  /** Stable digest of what matters for connecting: a change means reconnect. */
  connectionKey: string;
}

const MAX_NICKNAME = 64;
const MAX_NURLS = 32;

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('BadInput', message, { hint });
}

/** Printable form of an untrusted nickname. */
export function cleanNickname(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else text = '';
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '').trim();
  return [...text].slice(0, MAX_NICKNAME).join('');
}

/** The announced NURLs as a list: 1.20 sends a set (a list in JSON, maybe `!!set` in YAML). */
function nurlList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...(value as Set<unknown>)];
  if (value instanceof Map) return [...(value as Map<unknown, unknown>).keys()];
  throw bad('anonymous-storage-NURLs is not a list', 'announce NURLs as a list of "pb://…#v=1" strings');
}

/**
 * Validate an announcement dict. `serverId` is the key it was signed with (introducer) or
 * its `private/servers.yaml` key.
 */
export function parseAnnouncement(serverId: string, ann: unknown): StorageAnnouncement {
  // eslint-disable-next-line no-control-regex
  if (typeof serverId !== 'string' || serverId.length === 0 || serverId.length > 200 || /[\s\u0000-\u001f]/.test(serverId)) {
    throw bad('the server id is empty, too long or contains spaces', 'a server id looks like v0-<52 base32 characters>');
  }
  if (ann === null || typeof ann !== 'object' || Array.isArray(ann) || ann instanceof Map) {
    throw bad(`the announcement of ${serverId} is not a mapping`, 'an announcement is a dict with anonymous-storage-FURL, anonymous-storage-NURLs, nickname, …');
  }
  const dict = ann as Record<string, unknown>;
  const service = dict['service-name'];
  if (service !== undefined && service !== 'storage') {
    throw bad(`the announcement of ${serverId} is for service "${String(service)}", not storage`, 'only storage announcements describe storage servers');
  }
  const furlText = dict['anonymous-storage-FURL'];
  if (typeof furlText !== 'string') {
    throw bad(`the announcement of ${serverId} has no anonymous-storage-FURL`, 'the fURL is mandatory even for HTTPS servers: its TubID seeds the lease secrets; copy the whole announcement');
  }
  let furl: Furl;
  try {
    furl = parseFurl(furlText);
  } catch (e) {
    if (!isTahoeError(e)) throw e;
    throw new TahoeError('BadInput', `the anonymous-storage-FURL of ${serverId} is invalid: ${e.message}`, { hint: e.hint, cause: e });
  }
  const tubId = base32Decode(furl.tubId, 'TubID');

  const nurls: Nurl[] = [];
  const skippedNurls: string[] = [];
  const announced = nurlList(dict['anonymous-storage-NURLs']);
  if (announced.length > MAX_NURLS) throw bad(`the announcement of ${serverId} lists ${announced.length} NURLs`, `at most ${MAX_NURLS} NURLs are accepted`);
  announced.forEach((item, i) => {
    if (typeof item !== 'string') {
      skippedNurls.push(`NURL ${i + 1} is not a string`);
      return;
    }
    try {
      nurls.push(parseNurl(item));
    } catch (e) {
      if (!isTahoeError(e)) throw e;
      skippedNurls.push(`NURL ${i + 1}: ${e.message}`);
    }
  });

  const seedText = dict['permutation-seed-base32'];
  let seed: Buffer;
  if (seedText === undefined || seedText === null) seed = permutationSeed(serverId);
  else if (typeof seedText !== 'string') throw bad(`the permutation-seed-base32 of ${serverId} is not a string`, 'it is base32 text (84 characters for 1.20 servers)');
  else {
    try {
      seed = permutationSeed(serverId, seedText);
    } catch (e) {
      if (!isTahoeError(e)) throw e;
      throw new TahoeError('BadInput', `the permutation-seed-base32 of ${serverId} is not base32`, { hint: 'copy the announcement again: lowercase letters a-z and digits 2-7 only', cause: e });
    }
    if (seed.length === 0) throw bad(`the permutation-seed-base32 of ${serverId} is empty`, 'omit the key, or copy the server\'s permutation-seed file');
  }
  const seqnumValue = dict.seqnum;
  const seqnum = typeof seqnumValue === 'number' && Number.isSafeInteger(seqnumValue) && seqnumValue >= 0 ? seqnumValue : undefined;
  const connectionKey = JSON.stringify([furlText, nurls.map((n) => [n.scheme, n.spkiHash, n.host, n.port ?? null, n.swissnum]), seed.toString('hex')]);
  return {
    serverId,
    nickname: cleanNickname(dict.nickname),
    furl,
    tubId,
    nurls,
    skippedNurls,
    permutationSeed: seed,
    ...(seqnum === undefined ? {} : { seqnum }),
    connectionKey,
  };
}
