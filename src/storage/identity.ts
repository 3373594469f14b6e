/**
 * The storage service's identity: TLS certificate (from `private/node.pem`), TubID,
 * SPKI hash, swissnum, and the fURL and NURLs that name the service.
 *
 * Spec: shared/specs/storage-protocol.md §1 and §7: the swissnum is 32 base32 characters
 * (160 random bits) shared by the fURL and every NURL, kept across restarts in
 * `private/storage.furl` as Tahoe does; one NURL per `tcp:`, `tor:` or `i2p:` hint of
 * `tub.location` (`pb://` for tcp, `pb+tor://` for tor, `pb+i2p://` for i2p — anonymity
 * checklist G-1, understood by tahoe-ts only; legacy `HOST:PORT` hints get none); the fURL's TubID = base32(SHA-1(certificate DER)), because 1.20
 * clients derive lease secrets and write enablers from it even over HTTPS.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { spkiHash, tubIdOf } from '../crypto/certificate.js';
import type { NodeCertificate } from '../crypto/certificate.js';
import { formatFurl, formatNurl, nurlsFromHints, parseFurl } from '../net/hints.js';
import type { ConnectionHint } from '../net/hints.js';
import { loadOrCreateNodeCertificate, readNodeCertificate, readNodeFile, writeFileAtomic } from '../config/keys.js';

export const STORAGE_FURL_FILE = 'private/storage.furl';

/** A fresh storage swissnum: base32 of 20 random bytes (32 characters). */
export function newSwissnum(): string {
  return base32Encode(randomBytes(20));
}

export function formatStorageFurl(tubId: string, hints: readonly ConnectionHint[], swissnum: string): string {
  return formatFurl({ tubId, hints: [...hints], swissnum });
}

/** One NURL per `tcp:` / `tor:` / `i2p:` hint, in hint order (nurlsFromHints: legacy `HOST:PORT` gives none). */
export function storageNurls(spki: string, hints: readonly ConnectionHint[], swissnum: string): string[] {
  return nurlsFromHints(spki, swissnum, hints).map(formatNurl);
}

export interface StorageIdentity {
  certificate: NodeCertificate;
  tubId: string;
  spkiHash: string;
  /** Secret: never log. */
  swissnum: string;
  /** `pb://<tubid>@<hints>/<swissnum>` (secret). */
  furl: string;
  /** `pb://<spki>@host:port/<swissnum>#v=1` per usable hint (secret). */
  nurls: string[];
}

export interface LoadStorageIdentityOptions {
  /** The node's `tub.location` hints. */
  hints: readonly ConnectionHint[];
  /** Create `private/node.pem` when missing (a `run` of a fresh node); default false. */
  createCertificate?: boolean;
}

/**
 * Read (or create) the storage identity of a node directory. The swissnum is taken from
 * `private/storage.furl` when it exists; the file is rewritten (atomically, 0600) when
 * the location changed, keeping the swissnum so existing clients keep working.
 */
export async function loadStorageIdentity(nodeDirectory: string, options: LoadStorageIdentityOptions): Promise<StorageIdentity> {
  const certificate = options.createCertificate
    ? await loadOrCreateNodeCertificate(nodeDirectory)
    : await readNodeCertificate(nodeDirectory);
  if (certificate === undefined) {
    throw new TahoeError('NodeDirInvalid', `${path.join(nodeDirectory, 'private', 'node.pem')} does not exist`, {
      hint: 'create the node with `tahoe-ts create-node`, or copy node.pem from the Tahoe node directory you are replacing',
    });
  }
  const tubId = tubIdOf(certificate.certificate);
  const spki = spkiHash(certificate.certificate);
  const furlFile = path.join(nodeDirectory, STORAGE_FURL_FILE);
  const existing = await readNodeFile(nodeDirectory, STORAGE_FURL_FILE);
  let swissnum: string;
  if (existing !== undefined && existing.trim() !== '') {
    try {
      swissnum = parseFurl(existing.trim()).swissnum;
    } catch (e) {
      throw new TahoeError('NodeDirInvalid', `${furlFile} is damaged`, {
        cause: e,
        hint: 'restore private/storage.furl from backup; deleting it creates a new swissnum, and clients must then get the new announcement',
      });
    }
    if (!/^[a-z2-7]{1,64}$/.test(swissnum)) {
      throw new TahoeError('NodeDirInvalid', `${furlFile} holds a swissnum that is not lowercase base32`, {
        hint: 'restore private/storage.furl from backup, or delete it to create a new one',
      });
    }
  } else {
    swissnum = newSwissnum();
  }
  const furl = formatStorageFurl(tubId, options.hints, swissnum);
  if (existing === undefined || existing.trim() !== furl) await writeFileAtomic(furlFile, furl + '\n', 0o600);
  return { certificate, tubId, spkiHash: spki, swissnum, furl, nurls: storageNurls(spki, options.hints, swissnum) };
}
