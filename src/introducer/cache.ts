/**
 * The announcement cache `private/introducer_<petname>_cache.yaml`: what a subscriber
 * last learned from an introducer, so that a node whose introducer is down at start still
 * knows its servers.
 *
 * Format (shared/specs/configuration.md §6; Tahoe-LAFS 1.20 `introducer/client.py` writes a
 * YAML list of `{ann: <dict>, key_s: "v0-…"}` with PyYAML): we write the same list and add
 * the signed form, `msg` (the signed JSON text) and `sig`, so that the entry can be checked
 * again when it is read. Entries written by Tahoe (no `msg`/`sig`) are accepted as they
 * are: the file is the node's own, in its 0700 `private/` directory. An entry whose
 * signature does not verify is dropped.
 *
 * Pure: parsing and formatting only; node/ reads and writes the file.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { TahoeError } from '../errors.js';
import { verifyAnnouncement, type SignedAnnouncement } from './announcement.js';

/** An announcement a subscriber knows, signed (from an introducer or our cache) or not (a Tahoe cache). */
export interface KnownAnnouncement {
  key: string;
  serviceName: string;
  /** From the dict; 0 when a Tahoe cache entry has none. */
  seqnum: number;
  ann: Record<string, unknown>;
  signed?: SignedAnnouncement;
}

/** Petnames become part of a file name: keep them to safe characters. */
export function cacheFileName(petname: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(petname) || petname.startsWith('.')) {
    throw new TahoeError('ConfigInvalid', `introducer petname "${petname.slice(0, 64)}" cannot name a cache file`, {
      hint: 'use petnames of letters, digits, ".", "_" and "-" (not starting with ".") in private/introducers.yaml',
    });
  }
  return `private/introducer_${petname}_cache.yaml`;
}

export function formatAnnouncementCache(entries: readonly KnownAnnouncement[]): string {
  const list = entries.map((e) => {
    const item: Record<string, unknown> = { ann: e.ann, key_s: e.key };
    if (e.signed !== undefined) {
      item.msg = Buffer.from(e.signed.msg).toString('utf8');
      item.sig = e.signed.sig;
    }
    return item;
  });
  return stringifyYaml(list, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
}

export interface ParsedCache {
  entries: KnownAnnouncement[];
  /** Why entries were dropped (no secrets in these strings). */
  dropped: string[];
}

/** Parse a cache file. A file that is not a list at all is a `ConfigInvalid`; bad entries are dropped. */
export function parseAnnouncementCache(text: string, file: string): ParsedCache {
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: '1.1', maxAliasCount: 100 });
  } catch (cause) {
    throw new TahoeError('ConfigInvalid', `${file} is not valid YAML`, { cause, hint: `delete ${file}: the node rebuilds it from the introducer` });
  }
  if (doc === null || doc === undefined) return { entries: [], dropped: [] };
  if (!Array.isArray(doc)) throw new TahoeError('ConfigInvalid', `${file} is not a list of announcements`, { hint: `delete ${file}: the node rebuilds it from the introducer` });
  const entries: KnownAnnouncement[] = [];
  const dropped: string[] = [];
  doc.forEach((item: unknown, i) => {
    const where = `entry ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      dropped.push(`${where} is not a mapping`);
      return;
    }
    const e = item as Record<string, unknown>;
    const key = e.key_s;
    if (typeof key !== 'string' || !key.startsWith('v0-')) {
      dropped.push(`${where} has no v0- key_s`);
      return;
    }
    if (typeof e.msg === 'string' && typeof e.sig === 'string') {
      try {
        const v = verifyAnnouncement({ msg: Buffer.from(e.msg, 'utf8'), sig: e.sig, key });
        entries.push({ key, serviceName: v.serviceName, seqnum: v.seqnum, ann: v.ann, signed: { msg: v.msg, sig: v.sig, key } });
      } catch (err) {
        dropped.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
      }
      return;
    }
    const ann = e.ann;
    if (ann === null || typeof ann !== 'object' || Array.isArray(ann)) {
      dropped.push(`${where} has no announcement dict`);
      return;
    }
    const dict = ann as Record<string, unknown>;
    const service = dict['service-name'];
    const seq = dict.seqnum;
    entries.push({
      key,
      serviceName: typeof service === 'string' ? service : 'storage',
      seqnum: typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : 0,
      ann: dict,
    });
  });
  return { entries, dropped };
}
