/**
 * Signed announcements, in Tahoe-LAFS's format.
 *
 * Spec: shared/specs/storage-protocol.md §7 (tahoe-lafs `introducer/common.py`
 * semantics): the announcement is a dict; `msg` = its UTF-8 JSON text; `sig` = "v0-" +
 * base32(Ed25519 signature over msg); `key` = "v0-" + base32(32-byte public key). The
 * triple (msg, sig, key) is what travels. Announcements without a signature, with a key or
 * signature that is not "v0-", or whose signature does not verify are rejected. The index
 * of an announcement is (service-name, key); a higher `seqnum` replaces a lower one; the
 * `nonce` is fresh random base32 for every signing.
 *
 * We sign the JSON text Python's `json.dumps` would produce (", " and ": " separators,
 * non-ASCII escaped) so that what we publish is byte-for-byte what a Tahoe node would sign
 * for the same dict. Verification never re-encodes: it checks the bytes received.
 *
 * Pure: no I/O. `AnnouncementSigner` takes a seqnum store from the caller.
 */
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { parseServerId, verifySignatureString, type NodeKey } from '../crypto/node-key.js';

/** The triple that travels: msg is the signed JSON bytes. */
export interface SignedAnnouncement {
  msg: Uint8Array;
  /** `v0-<base32 signature>` */
  sig: string;
  /** `v0-<base32 public key>`: the announcing node's server ID. */
  key: string;
}

/** A signed announcement whose signature and shape were checked. */
export interface VerifiedAnnouncement extends SignedAnnouncement {
  ann: Record<string, unknown>;
  serviceName: string;
  seqnum: number;
  nonce: string;
}

/** JSON values an announcement may contain. */
export type AnnouncementValue = null | boolean | number | string | AnnouncementValue[] | { [key: string]: AnnouncementValue };

/** Largest signed message accepted (a 1.20 storage announcement is about 1 KiB). */
export const MAX_ANNOUNCEMENT_BYTES = 32 * 1024;
const MAX_SERVICE_NAME = 64;
const MAX_NONCE = 128;

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('BadInput', message, { hint });
}

function pythonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xffff)) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c > 0xffff) {
      // ensure_ascii writes astral characters as a surrogate pair
      const v = c - 0x10000;
      out += '\\u' + (0xd800 + (v >> 10)).toString(16) + '\\u' + (0xdc00 + (v & 0x3ff)).toString(16);
    } else out += ch;
  }
  return out + '"';
}

/** The text Python's `json.dumps(value)` gives (default separators, ensure_ascii). */
export function pythonJsonDumps(value: AnnouncementValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad('an announcement cannot contain NaN or infinity', 'use finite numbers');
    if (Number.isInteger(value)) return String(value);
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return pythonString(value);
  if (Array.isArray(value)) return '[' + value.map(pythonJsonDumps).join(', ') + ']';
  return '{' + Object.entries(value).map(([k, v]) => `${pythonString(k)}: ${pythonJsonDumps(v)}`).join(', ') + '}';
}

/** A fresh nonce: base32 of 32 random bytes (what Tahoe's introducer client sends). */
export function newNonce(): string {
  return base32Encode(randomBytes(32));
}

/** Sign an announcement dict with the node key (the dict must already carry seqnum and nonce). */
export function signAnnouncement(ann: Record<string, AnnouncementValue>, key: NodeKey): SignedAnnouncement {
  const msg = Buffer.from(pythonJsonDumps(ann), 'utf8');
  if (msg.length > MAX_ANNOUNCEMENT_BYTES) {
    throw bad(`the announcement is ${msg.length} bytes, more than the ${MAX_ANNOUNCEMENT_BYTES} an introducer accepts`, 'announce fewer or shorter NURLs / hints');
  }
  return { msg, sig: key.signToString(msg), key: key.serverId() };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Check a received triple: "v0-" key and signature, a valid Ed25519 signature over the
 * exact bytes, and a JSON object with a service name, a seqnum and a nonce. Malformed
 * input is `BadInput`; a signature that does not verify is `IntegrityError`.
 */
export function verifyAnnouncement(signed: SignedAnnouncement, maxBytes = MAX_ANNOUNCEMENT_BYTES): VerifiedAnnouncement {
  const { msg, sig, key } = signed;
  if (!(msg instanceof Uint8Array)) throw bad('the announcement message is not a byte string', 'send msg as the UTF-8 bytes of the JSON text');
  if (msg.length > maxBytes) throw bad(`the announcement is ${msg.length} bytes (limit ${maxBytes})`, 'announce fewer or shorter NURLs / hints');
  if (typeof key !== 'string' || !key.startsWith('v0-')) {
    throw bad('the announcement key is not a "v0-" Ed25519 key', 'announcements must be signed with the node\'s Ed25519 key (Tahoe-LAFS 1.12 or later, or tahoe-ts)');
  }
  if (typeof sig !== 'string' || !sig.startsWith('v0-')) {
    throw bad('the announcement is unsigned or its signature is not "v0-"', 'announcements must carry a v0- Ed25519 signature');
  }
  try {
    parseServerId(key);
  } catch (cause) {
    throw new TahoeError('BadInput', 'the announcement key is not a valid Ed25519 public key', { cause, hint: 'the key must be "v0-" followed by 52 base32 characters' });
  }
  if (!verifySignatureString(key, sig, msg)) {
    throw new TahoeError('IntegrityError', `the signature of an announcement by ${key.slice(0, 12)}… does not verify`, {
      hint: 'the announcement was altered, or signed with another key; it is ignored',
    });
  }
  let ann: unknown;
  try {
    ann = JSON.parse(UTF8.decode(msg));
  } catch (cause) {
    throw new TahoeError('BadInput', 'the signed announcement is not UTF-8 JSON', { cause, hint: 'msg must be the UTF-8 JSON text of the announcement dict' });
  }
  if (ann === null || typeof ann !== 'object' || Array.isArray(ann)) throw bad('the signed announcement is not a JSON object', 'msg must be a JSON dict');
  const dict = ann as Record<string, unknown>;
  const serviceName = dict['service-name'];
  if (typeof serviceName !== 'string' || serviceName === '' || serviceName.length > MAX_SERVICE_NAME) {
    throw bad('the announcement has no valid "service-name"', 'e.g. "service-name": "storage"');
  }
  const seqnum = dict.seqnum;
  if (typeof seqnum !== 'number' || !Number.isSafeInteger(seqnum) || seqnum < 0) {
    throw bad('the announcement has no valid "seqnum"', 'seqnum is a non-negative integer that grows with every publish');
  }
  const nonce = dict.nonce;
  if (typeof nonce !== 'string' || nonce === '' || nonce.length > MAX_NONCE) {
    throw bad('the announcement has no valid "nonce"', 'nonce is fresh random text for every publish');
  }
  return { msg, sig, key, ann: dict, serviceName, seqnum, nonce };
}

/** True when two announcements differ only in seqnum and nonce (a refresh, not a change). */
export function sameContent(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const strip = (d: Record<string, unknown>): string => {
    const copy: Record<string, unknown> = { ...d };
    delete copy.seqnum;
    delete copy.nonce;
    return JSON.stringify(Object.keys(copy).sort().map((k) => [k, copy[k]]));
  };
  return strip(a) === strip(b);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Where the last seqnum is kept (`announcement-seqnum` in the node directory). */
export interface SeqnumStore {
  load(): Promise<number | undefined>;
  save(seqnum: number): Promise<void>;
}

/**
 * Signs this node's announcement: every signing takes the next seqnum (persisted first, so
 * a crash never reuses one) and a fresh nonce. Several introducers share one signer;
 * `latest(maxAgeMs)` re-signs only when the last signature is older than that.
 */
export class AnnouncementSigner {
  private seqnum: number | undefined;
  private last: { signed: SignedAnnouncement; at: number } | undefined;
  private signing: Promise<SignedAnnouncement> | undefined;

  constructor(
    private readonly key: NodeKey,
    private body: Record<string, AnnouncementValue>,
    private readonly store: SeqnumStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Replace the announcement's content (e.g. a new location); the next publish signs it. */
  update(body: Record<string, AnnouncementValue>): void {
    this.body = body;
    this.last = undefined;
  }

  /** Sign anew, with a seqnum above `atLeast` (an introducer told us it has seen that one). */
  async sign(atLeast?: number): Promise<SignedAnnouncement> {
    while (this.signing) await this.signing.catch(() => undefined);
    const run = (async () => {
      if (this.seqnum === undefined) this.seqnum = (await this.store.load()) ?? 0;
      const next = Math.max(this.seqnum, atLeast ?? 0) + 1;
      await this.store.save(next);
      this.seqnum = next;
      const signed = signAnnouncement({ ...this.body, seqnum: next, nonce: newNonce() }, this.key);
      this.last = { signed, at: this.now() };
      return signed;
    })();
    this.signing = run;
    try {
      return await run;
    } finally {
      if (this.signing === run) this.signing = undefined;
    }
  }

  /** The last signature if younger than `maxAgeMs`, else a fresh one. */
  async latest(maxAgeMs: number): Promise<SignedAnnouncement> {
    while (this.signing) await this.signing.catch(() => undefined);
    if (this.last !== undefined && this.now() - this.last.at < maxAgeMs) return this.last.signed;
    return this.sign();
  }
}
