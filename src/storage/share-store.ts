/**
 * The on-disk share store, in Tahoe-LAFS's layout (containers: containers.ts):
 *
 *   <storageDir>/shares/<si[:2]>/<si>/<shnum>           complete shares
 *   <storageDir>/shares/incoming/<si[:2]>/<si>/<shnum>  immutable uploads in progress
 *   <storageDir>/tmp/                                    scratch for atomic mutable rewrites
 *   <storageDir>/corruption-advisories/                  clients' corruption reports
 *
 * Semantics follow the 1.20 server (shared/specs/storage-protocol.md §5).
 *
 * Crash safety:
 * - an immutable upload lives in incoming/ until every byte of its allocation has been
 *   written; then the lease is appended, the file and directory are fsynced and the file
 *   is renamed into place. incoming/ is emptied at start, so an interrupted upload never
 *   becomes a readable share. Complete share data is never written again.
 * - lease updates on an immutable share touch only the lease block (72-byte records
 *   after the data, then the count in the header, each step fsynced).
 * - a mutable write builds the new container in tmp/ (copy, apply, fsync) and renames it
 *   over the old one: readers see the old or the new share, never a mix.
 * Concurrency: structural changes of a storage index run under a per-SI lock; data
 * writes of one upload under a per-share lock (always taken before the SI lock).
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, statfs, unlink, copyFile, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TahoeError } from '../errors.js';
import { silentLogger } from '../log.js';
import type { Logger } from '../log.js';
import { isBase32 } from '../crypto/base32.js';
import {
  CURRENT_CONTAINER_VERSION,
  IMMUTABLE_HEADER_SIZE,
  IMMUTABLE_LEASE_SIZE,
  MUTABLE_DATA_OFFSET,
  MUTABLE_HEADER_SIZE,
  MUTABLE_LEASE_SIZE,
  MUTABLE_LEASE_SLOTS,
  containerKind,
  decodeImmutableHeader,
  decodeImmutableLease,
  decodeMutableHeader,
  decodeMutableLease,
  encodeImmutableHeader,
  encodeImmutableLease,
  encodeMutableHeader,
  encodeMutableLease,
  immutableDataLength,
  secretMatches,
  storedSecret,
} from './containers.js';
import type { MutableHeader, ShareKind, StoredLease } from './containers.js';
import { KeyedMutex } from './lock.js';
import { RangeSet } from './ranges.js';
import type { ByteRange } from './ranges.js';
import type { ReadTestWriteRequest, ReadTestWriteResponse } from './messages.js';
import { MAX_MUTABLE_SHARE_SIZE } from './messages.js';

/** 31 days, Tahoe's DEFAULT_RENEWAL_TIME. */
export const DEFAULT_LEASE_DURATION_SECONDS = 31 * 24 * 60 * 60;
/** An upload with no write for this long is aborted (1.20: 30 minutes). */
export const DEFAULT_UPLOAD_TIMEOUT_MS = 30 * 60 * 1000;
/** Default cap on the answer to a read-test-write read vector (see ShareStoreOptions.maxReadVectorBytes). */
export const DEFAULT_MAX_READ_VECTOR_BYTES = 64 * 1024 * 1024;

/** Why the store refused a request; the HTTP layer maps each to a status code. */
export type RejectionReason =
  | 'not-found'
  | 'upload-secret-mismatch'
  | 'write-enabler-mismatch'
  | 'conflict'
  | 'already-complete'
  | 'beyond-allocation'
  | 'short-body'
  | 'too-large'
  | 'no-space';

export function rejection(reason: RejectionReason, message: string, hint?: string): TahoeError {
  return new TahoeError('BadInput', message, { details: { reason }, hint: hint ?? 'the storage server refused this request' });
}

export function rejectionReason(e: unknown): RejectionReason | undefined {
  if (e instanceof TahoeError && e.kind === 'BadInput' && typeof e.details.reason === 'string') return e.details.reason as RejectionReason;
  return undefined;
}

export interface LeaseSecrets {
  renewSecret: Uint8Array;
  cancelSecret: Uint8Array;
}

export interface ShareStoreOptions {
  /** `<node directory>/storage`. */
  storageDir: string;
  /** The server's 20-byte node id (TubID bytes), recorded in mutable containers and leases. */
  nodeId: Uint8Array;
  /** `[storage] reserved_space` in bytes: never promise this much of the disk. */
  reservedSpace?: number;
  /** `[storage] readonly`: accept no new shares (available space reported as 0). */
  readonly?: boolean;
  uploadTimeoutMs?: number;
  leaseDurationSeconds?: number;
  /** Keep at most this many corruption advisories (a flood must not fill the disk). */
  maxCorruptionAdvisories?: number;
  /**
   * Largest answer to a read-test-write read vector (bytes over all shares and reads);
   * larger requests are refused as `too-large`. 1.20 has no such bound. Default 64 MiB.
   */
  maxReadVectorBytes?: number;
  /** Milliseconds since the epoch; replaceable in tests. */
  clock?: () => number;
  logger?: Logger;
}

interface Upload {
  si: string;
  shnum: number;
  secret: Buffer;
  size: number;
  written: RangeSet;
  incomingPath: string;
  lease: LeaseSecrets;
  timer: NodeJS.Timeout | undefined;
  closed: boolean;
}

/** Readable share data. */
export interface ShareReader {
  kind: ShareKind;
  length: number;
  /** Read up to `length` bytes at `offset` of the share data (truncated at the end). */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ExpiryPolicy {
  /** 'age': a lease expires `overrideLeaseDurationSeconds` after it was granted (or at its own expiry time if unset); 'cutoff-date': leases granted before the date are expired. */
  mode: 'age' | 'cutoff-date';
  overrideLeaseDurationSeconds?: number;
  /** Seconds since the epoch, for 'cutoff-date'. */
  cutoffDate?: number;
  shareTypes: ReadonlySet<ShareKind>;
}

export interface ExpiryReport {
  examinedShares: number;
  deletedShares: number;
  deletedBytes: number;
}

const SI_PATTERN = /^[a-z2-7]{26}$/;
const SHNUM_PATTERN = /^(0|[1-9][0-9]{0,14})$/;

/** True for a canonical 26-character lowercase base32 storage index. */
export function isStorageIndex(si: string): boolean {
  return SI_PATTERN.test(si) && isBase32(si);
}

export class ShareStore {
  readonly storageDir: string;
  readonly sharesDir: string;
  readonly incomingDir: string;
  readonly tmpDir: string;
  readonly advisoryDir: string;
  private readonly nodeId: Buffer;
  private readonly reservedSpace: number;
  private readonly readonly: boolean;
  private readonly uploadTimeoutMs: number;
  private readonly leaseDuration: number;
  private readonly maxAdvisories: number;
  private readonly maxReadVectorBytes: number;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly siLock = new KeyedMutex();
  private readonly shareLock = new KeyedMutex();
  private readonly uploads = new Map<string, Map<number, Upload>>();
  private advisoryCount = 0;
  private closed = false;
  private spaceCache: { at: number; value: bigint } | undefined;
  private spaceRefresh: Promise<bigint> | undefined;

  private constructor(options: ShareStoreOptions) {
    if (options.nodeId.length !== 20) throw new TahoeError('Internal', 'node id must be 20 bytes');
    this.storageDir = options.storageDir;
    this.sharesDir = path.join(options.storageDir, 'shares');
    this.incomingDir = path.join(this.sharesDir, 'incoming');
    this.tmpDir = path.join(options.storageDir, 'tmp');
    this.advisoryDir = path.join(options.storageDir, 'corruption-advisories');
    this.nodeId = Buffer.from(options.nodeId);
    this.reservedSpace = options.reservedSpace ?? 0;
    this.readonly = options.readonly ?? false;
    this.uploadTimeoutMs = options.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
    this.leaseDuration = options.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
    this.maxAdvisories = options.maxCorruptionAdvisories ?? 1000;
    this.maxReadVectorBytes = options.maxReadVectorBytes ?? DEFAULT_MAX_READ_VECTOR_BYTES;
    this.clock = options.clock ?? Date.now;
    this.log = options.logger ?? silentLogger;
  }

  /** Open (creating directories) and discard uploads a previous run left incomplete. */
  static async open(options: ShareStoreOptions): Promise<ShareStore> {
    const store = new ShareStore(options);
    await diskOp(`prepare ${store.storageDir}`, async () => {
      await mkdir(store.sharesDir, { recursive: true });
      await rm(store.incomingDir, { recursive: true, force: true });
      await rm(store.tmpDir, { recursive: true, force: true });
      await mkdir(store.incomingDir, { recursive: true });
      await mkdir(store.tmpDir, { recursive: true });
      await mkdir(store.advisoryDir, { recursive: true });
      store.advisoryCount = (await readdir(store.advisoryDir)).length;
    });
    return store;
  }

  /** Stop upload timers. In-progress uploads stay in incoming/ and are discarded at the next open. */
  async close(): Promise<void> {
    this.closed = true;
    for (const perSi of this.uploads.values()) for (const u of perSi.values()) if (u.timer) clearTimeout(u.timer);
  }

  private nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  private siDir(si: string): string {
    return path.join(this.sharesDir, si.slice(0, 2), si);
  }

  private incomingSiDir(si: string): string {
    return path.join(this.incomingDir, si.slice(0, 2), si);
  }

  // ------------------------------------------------------------------ space

  /**
   * Free space for shares: the filesystem's space available to unprivileged users minus
   * `reserved_space` (0 when readonly, never negative). Cached for a second so the
   * version endpoint stays fast under load.
   */
  async availableSpace(): Promise<bigint> {
    const now = this.clock();
    if (this.spaceCache && now - this.spaceCache.at < 1000) return this.spaceCache.value;
    this.spaceRefresh ??= (async () => {
      try {
        const s = await statfs(this.storageDir, { bigint: true });
        let avail = s.bavail * s.bsize - BigInt(this.reservedSpace);
        if (this.readonly || avail < 0n) avail = 0n;
        this.spaceCache = { at: this.clock(), value: avail };
        return avail;
      } catch (e) {
        throw diskError(`cannot read disk statistics of ${this.storageDir}`, e);
      } finally {
        this.spaceRefresh = undefined;
      }
    })();
    // A stale value is still a fine answer while the refresh runs.
    if (this.spaceCache) {
      this.spaceRefresh.catch((e: unknown) => this.log.warn(e instanceof Error ? e : String(e)));
      return this.spaceCache.value;
    }
    return this.spaceRefresh;
  }

  /** Bytes promised to uploads in progress. */
  allocatedToUploads(): number {
    let sum = 0;
    for (const perSi of this.uploads.values()) for (const u of perSi.values()) sum += u.size;
    return sum;
  }

  // ------------------------------------------------------------------ listing

  /** Share numbers present for `si`, with their container kind. */
  private async listShares(si: string): Promise<Map<number, { kind: ShareKind; version: number; file: string }>> {
    const dir = this.siDir(si);
    const out = new Map<number, { kind: ShareKind; version: number; file: string }>();
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw diskError(`cannot list ${dir}`, e);
    }
    for (const name of names) {
      if (!SHNUM_PATTERN.test(name)) continue;
      const file = path.join(dir, name);
      const kind = await readKind(file);
      if (kind) out.set(Number(name), { ...kind, file });
    }
    return out;
  }

  async listImmutable(si: string): Promise<number[]> {
    const all = await this.listShares(si);
    return [...all].filter(([, v]) => v.kind === 'immutable').map(([n]) => n).sort((a, b) => a - b);
  }

  async listMutable(si: string): Promise<number[]> {
    const all = await this.listShares(si);
    return [...all].filter(([, v]) => v.kind === 'mutable').map(([n]) => n).sort((a, b) => a - b);
  }

  /** True when any share (of either kind) exists for `si`. */
  async hasShares(si: string): Promise<boolean> {
    return (await this.listShares(si)).size > 0;
  }

  // ------------------------------------------------------------------ immutable: allocate

  async allocate(
    si: string,
    request: { lease: LeaseSecrets; uploadSecret: Uint8Array; shareNumbers: number[]; allocatedSize: number | bigint },
  ): Promise<{ alreadyHave: number[]; allocated: number[] }> {
    return this.siLock.run(si, async () => {
      const existing = await this.listShares(si);
      // The mirror of read-test-write's check: an immutable upload into a mutable file's
      // storage index would block that file's updates here (1.20 fails it as well).
      if ([...existing.values()].some((s) => s.kind === 'mutable')) {
        throw rejection('conflict', 'this storage index holds mutable shares; immutable shares cannot be added to it', 'mutable and immutable files never share a storage index; check the cap');
      }
      const alreadyHave = [...existing.keys()].sort((a, b) => a - b);
      // Whoever wants these shares stored wants them kept: add or renew their lease.
      for (const [, share] of existing) await this.leaseOrSkipDamaged(share, request.lease, 0);
      const size = typeof request.allocatedSize === 'bigint' ? Number.POSITIVE_INFINITY : request.allocatedSize;
      let remaining = Number((await this.availableSpace())) - this.allocatedToUploads();
      const allocated: number[] = [];
      const perSi = this.uploads.get(si) ?? new Map<number, Upload>();
      // Registered before the loop: if creating a later share fails, the earlier ones are
      // still known (counted against free space, writable, aborted on timeout).
      this.uploads.set(si, perSi);
      try {
        for (const shnum of request.shareNumbers) {
          if (existing.has(shnum) || perSi.has(shnum)) continue;
          if (!(remaining >= size) || !Number.isSafeInteger(size)) continue;
          const incomingPath = path.join(this.incomingSiDir(si), String(shnum));
          await diskOp(`create ${incomingPath}`, async () => {
            await mkdir(path.dirname(incomingPath), { recursive: true });
            const fh = await open(incomingPath, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_RDWR, 0o600);
            try {
              await fh.write(encodeImmutableHeader(CURRENT_CONTAINER_VERSION, size, 0), 0, IMMUTABLE_HEADER_SIZE, 0);
              // Sparse until written; the data region has its final size from the start.
              await fh.truncate(IMMUTABLE_HEADER_SIZE + size);
            } finally {
              await fh.close();
            }
          });
          const upload: Upload = {
            si,
            shnum,
            secret: Buffer.from(request.uploadSecret),
            size,
            written: new RangeSet(),
            incomingPath,
            lease: { renewSecret: Buffer.from(request.lease.renewSecret), cancelSecret: Buffer.from(request.lease.cancelSecret) },
            timer: undefined,
            closed: false,
          };
          perSi.set(shnum, upload);
          this.armUploadTimer(upload);
          allocated.push(shnum);
          remaining -= size;
        }
      } finally {
        if (perSi.size === 0) this.uploads.delete(si);
      }
      if (allocated.length > 0) this.log.debug(`allocated ${allocated.length} share(s) of ${size} bytes for SI ${si}`);
      return { alreadyHave, allocated };
    });
  }

  private armUploadTimer(upload: Upload): void {
    if (upload.timer) clearTimeout(upload.timer);
    if (this.closed) return;
    upload.timer = setTimeout(() => {
      this.log.info(`aborting upload of SI ${upload.si} share ${upload.shnum}: no write for ${Math.round(this.uploadTimeoutMs / 1000)} s`);
      void this.discardUpload(upload).catch((e: unknown) => this.log.warn('cannot discard an abandoned upload:', e instanceof Error ? e : String(e)));
    }, this.uploadTimeoutMs);
    upload.timer.unref();
  }

  private getUpload(si: string, shnum: number, uploadSecret: Uint8Array): Upload {
    const upload = this.uploads.get(si)?.get(shnum);
    if (upload === undefined) {
      throw rejection('not-found', `no upload in progress for share ${shnum} of this storage index`, 'allocate the share first (POST /storage/v1/immutable/:si); an upload idle for 30 minutes is aborted');
    }
    const presented = Buffer.from(uploadSecret);
    if (presented.length !== upload.secret.length || !timingSafeEqual(presented, upload.secret)) {
      throw rejection('upload-secret-mismatch', 'wrong upload secret for this upload', 'only the client that allocated the share may write or abort it');
    }
    return upload;
  }

  /** Is there an upload in progress for this share? (For the abort 404/405 distinction.) */
  uploadInProgress(si: string, shnum: number): boolean {
    return this.uploads.get(si)?.has(shnum) ?? false;
  }

  // ------------------------------------------------------------------ immutable: write

  /**
   * Write `length` bytes at `offset` of an upload, consuming `body` chunk by chunk
   * (memory does not grow with the body). Bytes over ranges already written must be
   * identical (else `conflict`, and nothing of the conflicting chunk is written).
   */
  async writeImmutable(
    si: string,
    shnum: number,
    uploadSecret: Uint8Array,
    offset: number,
    length: number,
    body: AsyncIterable<Uint8Array>,
  ): Promise<{ complete: boolean; required: ByteRange[] }> {
    // Validate before taking the lock so a wrong secret is answered at once.
    this.getUpload(si, shnum, uploadSecret);
    return this.shareLock.run(`${si}/${shnum}`, async () => {
      const upload = this.getUpload(si, shnum, uploadSecret);
      if (offset + length > upload.size) {
        throw rejection('beyond-allocation', `write of ${length} bytes at ${offset} goes beyond the allocated size ${upload.size}`, 'allocate the share with its full size; writes must stay within it');
      }
      this.armUploadTimer(upload);
      let position = offset;
      const end = offset + length;
      const fh = await diskOp(`open ${upload.incomingPath}`, () => open(upload.incomingPath, 'r+'));
      try {
        for await (const raw of body) {
          if (upload.closed) throw rejection('not-found', 'the upload was aborted while writing');
          if (position >= end) continue; // extra bytes beyond Content-Range are ignored, like 1.20
          const chunk = raw.subarray(0, end - position);
          await this.writeChunk(fh, upload, position, chunk);
          position += chunk.length;
          this.armUploadTimer(upload);
        }
        await diskOp('sync share data', () => fh.sync());
      } finally {
        await fh.close();
      }
      if (position < end) {
        throw rejection('short-body', `the body held ${position - offset} bytes but Content-Range announced ${length}`, 'send exactly the bytes the Content-Range header describes');
      }
      if (upload.written.covers(0, upload.size)) {
        await this.completeUpload(upload);
        return { complete: true, required: [] };
      }
      return { complete: false, required: upload.written.missing(0, upload.size) };
    });
  }

  private async writeChunk(fh: FileHandle, upload: Upload, position: number, chunk: Uint8Array): Promise<void> {
    const end = position + chunk.length;
    for (const r of upload.written.intersect(position, end)) {
      const existing = Buffer.alloc(r.end - r.begin);
      await diskOp('read share data', () => fh.read(existing, 0, existing.length, IMMUTABLE_HEADER_SIZE + r.begin));
      const incoming = chunk.subarray(r.begin - position, r.end - position);
      if (!existing.equals(incoming)) {
        throw rejection('conflict', `bytes ${r.begin}-${r.end - 1} were already written with different data`, 'an immutable share cannot be changed; re-send identical bytes or abort the upload');
      }
    }
    for (const r of upload.written.missing(position, end)) {
      const part = chunk.subarray(r.begin - position, r.end - position);
      await diskOp('write share data', () => fh.write(part, 0, part.length, IMMUTABLE_HEADER_SIZE + r.begin));
      upload.written.add(r.begin, r.end);
    }
  }

  private async completeUpload(upload: Upload): Promise<void> {
    await this.siLock.run(upload.si, async () => {
      if (upload.closed) throw rejection('not-found', 'the upload was aborted');
      const finalPath = path.join(this.siDir(upload.si), String(upload.shnum));
      const lease: StoredLease = {
        ownerNumber: 0,
        renewSecret: storedSecret(CURRENT_CONTAINER_VERSION, upload.lease.renewSecret),
        cancelSecret: storedSecret(CURRENT_CONTAINER_VERSION, upload.lease.cancelSecret),
        expirationTime: this.nowSeconds() + this.leaseDuration,
      };
      await diskOp(`complete ${finalPath}`, async () => {
        const fh = await open(upload.incomingPath, 'r+');
        try {
          await fh.write(encodeImmutableLease(lease), 0, IMMUTABLE_LEASE_SIZE, IMMUTABLE_HEADER_SIZE + upload.size);
          await fh.write(encodeImmutableHeader(CURRENT_CONTAINER_VERSION, upload.size, 1), 0, IMMUTABLE_HEADER_SIZE, 0);
          await fh.sync();
        } finally {
          await fh.close();
        }
        const firstCreated = await mkdir(path.dirname(finalPath), { recursive: true });
        await rename(upload.incomingPath, finalPath);
        await syncDir(path.dirname(finalPath));
        await syncCreatedDirEntries(firstCreated, path.dirname(finalPath));
      });
      this.forgetUpload(upload);
      await removeEmptyDirs(path.dirname(upload.incomingPath), 2);
      this.log.debug(`stored SI ${upload.si} share ${upload.shnum} (${upload.size} bytes)`);
    });
  }

  private forgetUpload(upload: Upload): void {
    upload.closed = true;
    if (upload.timer) clearTimeout(upload.timer);
    const perSi = this.uploads.get(upload.si);
    if (perSi?.get(upload.shnum) === upload) {
      perSi.delete(upload.shnum);
      if (perSi.size === 0) this.uploads.delete(upload.si);
    }
  }

  /** Discard an upload; false when it was already gone (completed or discarded) by the time the locks were ours. */
  private async discardUpload(upload: Upload): Promise<boolean> {
    return this.shareLock.run(`${upload.si}/${upload.shnum}`, () =>
      this.siLock.run(upload.si, async () => {
        if (upload.closed) return false;
        this.forgetUpload(upload);
        await diskOp(`remove ${upload.incomingPath}`, () => rm(upload.incomingPath, { force: true }));
        await removeEmptyDirs(path.dirname(upload.incomingPath), 2);
        return true;
      }),
    );
  }

  /**
   * Abort an upload in progress. A complete share cannot be aborted (`already-complete`,
   * 405); an unknown one is `not-found` (404); another client's is `upload-secret-mismatch`.
   */
  async abortImmutable(si: string, shnum: number, uploadSecret: Uint8Array): Promise<void> {
    if (!this.uploadInProgress(si, shnum)) {
      if ((await this.listImmutable(si)).includes(shnum)) {
        throw rejection('already-complete', `share ${shnum} is already complete and cannot be aborted`, 'immutable shares never change once uploaded');
      }
      throw rejection('not-found', `no upload in progress for share ${shnum}`);
    }
    const upload = this.getUpload(si, shnum, uploadSecret);
    if (await this.discardUpload(upload)) return;
    // A write queued ahead of the abort completed the share, or the upload timed out meanwhile.
    if ((await this.listImmutable(si)).includes(shnum)) {
      throw rejection('already-complete', `share ${shnum} was completed by a write before the abort ran`, 'immutable shares never change once uploaded');
    }
    throw rejection('not-found', `no upload in progress for share ${shnum}`);
  }

  // ------------------------------------------------------------------ reading

  /** A reader for a complete share of the given kind, or undefined when there is none. */
  async openShare(si: string, shnum: number, kind: ShareKind): Promise<ShareReader | undefined> {
    const file = path.join(this.siDir(si), String(shnum));
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw diskError(`cannot open ${file}`, e);
    }
    try {
      const head = Buffer.alloc(MUTABLE_HEADER_SIZE);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const found = containerKind(head.subarray(0, bytesRead));
      if (found?.kind !== kind) {
        await fh.close();
        return undefined;
      }
      let dataOffset: number;
      let length: number;
      if (kind === 'immutable') {
        const size = (await fh.stat()).size;
        dataOffset = IMMUTABLE_HEADER_SIZE;
        length = Math.min(immutableDataLength(decodeImmutableHeader(head), size), Math.max(0, size - IMMUTABLE_HEADER_SIZE));
      } else {
        const header = decodeMutableHeader(head.subarray(0, bytesRead));
        if (header === undefined) {
          await fh.close();
          return undefined;
        }
        dataOffset = MUTABLE_DATA_OFFSET;
        // A damaged header must not promise more bytes than the file holds.
        length = Math.min(header.dataLength, Math.max(0, (await fh.stat()).size - MUTABLE_DATA_OFFSET));
      }
      return {
        kind,
        length,
        read: async (offset, want) => {
          const n = Math.max(0, Math.min(want, length - offset));
          if (n === 0) return Buffer.alloc(0);
          const buf = Buffer.alloc(n);
          const { bytesRead: got } = await diskOp('read share', () => fh.read(buf, 0, n, dataOffset + offset));
          return buf.subarray(0, got);
        },
        close: () => fh.close(),
      };
    } catch (e) {
      await fh.close();
      throw diskError(`cannot read ${file}`, e);
    }
  }

  // ------------------------------------------------------------------ leases

  /**
   * `PUT /lease/:si`: add a lease (new renew secret) or renew the matching one on every
   * share of `si`. Returns false when the SI has no shares.
   */
  async addOrRenewLease(si: string, lease: LeaseSecrets): Promise<boolean> {
    return this.siLock.run(si, async () => {
      const shares = await this.listShares(si);
      if (shares.size === 0) return false;
      for (const [, share] of shares) await this.leaseOrSkipDamaged(share, lease, 1);
      return true;
    });
  }

  private async leaseOrSkipDamaged(share: { kind: ShareKind; version: number; file: string }, lease: LeaseSecrets, ownerNumber: number): Promise<void> {
    try {
      await this.addOrRenewLeaseOn(share, lease, ownerNumber);
    } catch (e) {
      if (!(e instanceof TahoeError && e.kind === 'ShareCorrupt')) throw e;
      this.log.warn(`not renewing a lease on a damaged share: ${e.message}`);
    }
  }

  private async addOrRenewLeaseOn(share: { kind: ShareKind; version: number; file: string }, lease: LeaseSecrets, ownerNumber: number): Promise<void> {
    const expiry = this.nowSeconds() + this.leaseDuration;
    if (share.kind === 'immutable') await this.immutableAddOrRenew(share.file, lease, expiry, ownerNumber);
    else await this.rewriteMutable(share.file, { lease, leaseExpiry: expiry });
  }

  private async immutableAddOrRenew(file: string, lease: LeaseSecrets, expiry: number, ownerNumber: number): Promise<void> {
    await diskOp(`update leases of ${file}`, async () => {
      const fh = await open(file, 'r+');
      try {
        const head = Buffer.alloc(IMMUTABLE_HEADER_SIZE);
        await fh.read(head, 0, IMMUTABLE_HEADER_SIZE, 0);
        const header = decodeImmutableHeader(head);
        const size = (await fh.stat()).size;
        checkImmutableHeader(header, size, file);
        const leaseOffset = IMMUTABLE_HEADER_SIZE + immutableDataLength(header, size);
        const block = Buffer.alloc(header.leaseCount * IMMUTABLE_LEASE_SIZE);
        await fh.read(block, 0, block.length, leaseOffset);
        for (let i = 0; i < header.leaseCount; i++) {
          const rec = decodeImmutableLease(block.subarray(i * IMMUTABLE_LEASE_SIZE, (i + 1) * IMMUTABLE_LEASE_SIZE));
          if (secretMatches(header.version, rec.renewSecret, lease.renewSecret)) {
            if (expiry > rec.expirationTime) {
              rec.expirationTime = expiry;
              await fh.write(encodeImmutableLease(rec), 0, IMMUTABLE_LEASE_SIZE, leaseOffset + i * IMMUTABLE_LEASE_SIZE);
              await fh.sync();
            }
            return;
          }
        }
        const rec: StoredLease = {
          ownerNumber,
          renewSecret: storedSecret(header.version, lease.renewSecret),
          cancelSecret: storedSecret(header.version, lease.cancelSecret),
          expirationTime: expiry,
        };
        // Record first, count second: a crash in between leaves ignorable trailing bytes.
        await fh.write(encodeImmutableLease(rec), 0, IMMUTABLE_LEASE_SIZE, leaseOffset + header.leaseCount * IMMUTABLE_LEASE_SIZE);
        await fh.sync();
        const dataLength = leaseOffset - IMMUTABLE_HEADER_SIZE;
        await fh.write(encodeImmutableHeader(header.version, dataLength, header.leaseCount + 1), 0, IMMUTABLE_HEADER_SIZE, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
  }

  /** All leases of a share (secrets in stored form), for the expirer and tests. */
  async leasesOf(file: string): Promise<{ kind: ShareKind; leases: StoredLease[]; size: number } | undefined> {
    const kind = await readKind(file);
    if (!kind) return undefined;
    return diskOp(`read leases of ${file}`, async () => {
      const fh = await open(file, 'r');
      try {
        const size = (await fh.stat()).size;
        if (kind.kind === 'immutable') {
          const head = Buffer.alloc(IMMUTABLE_HEADER_SIZE);
          await fh.read(head, 0, IMMUTABLE_HEADER_SIZE, 0);
          const header = decodeImmutableHeader(head);
          checkImmutableHeader(header, size, file);
          const leaseOffset = IMMUTABLE_HEADER_SIZE + immutableDataLength(header, size);
          const block = Buffer.alloc(header.leaseCount * IMMUTABLE_LEASE_SIZE);
          await fh.read(block, 0, block.length, leaseOffset);
          const leases: StoredLease[] = [];
          for (let i = 0; i < header.leaseCount; i++) leases.push(decodeImmutableLease(block.subarray(i * IMMUTABLE_LEASE_SIZE, (i + 1) * IMMUTABLE_LEASE_SIZE)));
          return { kind: 'immutable' as const, leases, size };
        }
        const { leases } = await readMutableLeases(fh);
        return { kind: 'mutable' as const, leases, size };
      } finally {
        await fh.close();
      }
    });
  }

  // ------------------------------------------------------------------ mutable

  /**
   * The read-test-write operation (`slot_testv_and_readv_and_writev`): check the write
   * enabler against every existing share, run the tests (a missing share reads as empty),
   * read the read vector from every existing share *before* writing, and only if all
   * tests passed apply the writes (new-length 0 deletes a share, a smaller one truncates)
   * and add or renew the lease on the shares that remain.
   */
  async readTestWrite(
    si: string,
    secrets: { writeEnabler: Uint8Array; lease: LeaseSecrets },
    request: ReadTestWriteRequest,
  ): Promise<ReadTestWriteResponse> {
    return this.siLock.run(si, async () => {
      const all = await this.listShares(si);
      // Immutable storage indexes are public (verify caps name them). Without this check
      // any client could rename a mutable container over a complete immutable share or
      // delete it with new-length 0. An immutable share has no write enabler, so none
      // matches (1.20 fails such a request as well).
      if ([...all.values()].some((s) => s.kind === 'immutable') || this.uploads.has(si)) {
        throw rejection('write-enabler-mismatch', 'this storage index holds immutable shares, which read-test-write cannot change', 'mutable and immutable files never share a storage index; check the cap');
      }
      const shares = new Map<number, { file: string; header: MutableHeader }>();
      for (const [shnum, share] of all) {
        const header = await readMutableHeader(share.file);
        if (header === undefined) continue;
        shares.set(shnum, { file: share.file, header });
      }
      const presented = Buffer.from(secrets.writeEnabler);
      for (const [, s] of shares) {
        if (presented.length !== s.header.writeEnabler.length || !timingSafeEqual(presented, s.header.writeEnabler)) {
          throw rejection('write-enabler-mismatch', 'the write enabler does not match the one stored with this mutable file', 'only holders of the write cap can change a mutable file; check that the server id used to derive the write enabler is right');
        }
      }

      // The read vector is answered for every share (up to 256 × 30 reads of a whole
      // share): refuse before reading anything rather than build an answer of any size.
      let answerBytes = 0;
      for (const [, s] of shares) {
        for (const r of request.readVector) answerBytes += Math.max(0, Math.min(r.size, s.header.dataLength - r.offset));
      }
      if (answerBytes > this.maxReadVectorBytes) {
        throw rejection(
          'too-large',
          `the read vector asks for ${answerBytes} bytes over ${shares.size} shares; this server answers at most ${this.maxReadVectorBytes} bytes per read-test-write`,
          'read fewer or smaller ranges per request, or read shares with GET /storage/v1/mutable/:si/:shnum',
        );
      }

      let success = true;
      for (const [shnum, v] of request.testWriteVectors) {
        const share = shares.get(shnum);
        for (const t of v.test) {
          // One byte more than the specimen decides equality as well as the full size would
          // (a longer read cannot equal it), without reading a whole share into memory.
          const size = Math.min(t.size, t.specimen.length + 1);
          const got = share ? await readMutableData(share.file, share.header, t.offset, size) : Buffer.alloc(0);
          if (!got.equals(Buffer.from(t.specimen))) success = false;
        }
      }

      const data = new Map<number, Uint8Array[]>();
      for (const [shnum, s] of shares) {
        const reads: Uint8Array[] = [];
        for (const r of request.readVector) reads.push(await readMutableData(s.file, s.header, r.offset, r.size));
        data.set(shnum, reads);
      }
      if (!success) return { success, data };

      // Check every write before changing anything.
      let growth = 0;
      for (const [shnum, v] of request.testWriteVectors) {
        const current = shares.get(shnum)?.header.dataLength ?? 0;
        let length = current;
        for (const w of v.write) {
          const end = w.offset + w.data.length;
          if (BigInt(end) > MAX_MUTABLE_SHARE_SIZE) throw rejection('too-large', `write ends at ${end}, beyond the maximum mutable share size`);
          length = Math.max(length, end);
        }
        if (v.newLength !== null && v.newLength !== 0) length = Math.min(length, v.newLength);
        growth += Math.max(0, length - current);
      }
      if (growth > 0 && BigInt(growth) > (await this.availableSpace())) {
        throw rejection('no-space', `the write needs ${growth} more bytes than the server has available`, 'the server is full; store the file on other servers');
      }

      const expiry = this.nowSeconds() + this.leaseDuration;
      const bucketDir = this.siDir(si);
      for (const [shnum, v] of request.testWriteVectors) {
        const file = path.join(bucketDir, String(shnum));
        if (v.newLength === 0) {
          if (shares.has(shnum)) {
            await diskOp(`delete ${file}`, () => unlink(file));
            await syncDir(bucketDir);
          }
          continue;
        }
        await this.rewriteMutable(file, {
          create: shares.has(shnum) ? undefined : { writeEnabler: presented },
          writes: v.write,
          newLength: v.newLength,
          lease: secrets.lease,
          leaseExpiry: expiry,
        });
      }
      await removeEmptyDirs(bucketDir, 2, this.sharesDir);
      return { success, data };
    });
  }

  /**
   * Rebuild a mutable container atomically: copy to tmp/, apply the writes (gaps read as
   * zero bytes), truncate, add or renew the lease, rewrite the lease blocks, fsync, rename.
   */
  private async rewriteMutable(
    file: string,
    change: {
      create?: { writeEnabler: Buffer };
      writes?: Array<{ offset: number; data: Uint8Array }>;
      newLength?: number | null;
      lease?: LeaseSecrets;
      leaseExpiry?: number;
    },
  ): Promise<void> {
    const tmp = path.join(this.tmpDir, `${path.basename(file)}.${randomBytes(8).toString('hex')}`);
    await diskOp(`rewrite ${file}`, async () => {
      let header: MutableHeader;
      let leases: StoredLease[];
      if (change.create) {
        header = { version: CURRENT_CONTAINER_VERSION, nodeId: this.nodeId, writeEnabler: change.create.writeEnabler, dataLength: 0, extraLeaseOffset: MUTABLE_DATA_OFFSET };
        leases = [];
        await writeFile(tmp, Buffer.alloc(0), { mode: 0o600 });
      } else {
        await copyFile(file, tmp);
        const fh0 = await open(tmp, 'r');
        try {
          const r = await readMutableLeases(fh0);
          header = r.header;
          leases = r.leases;
        } finally {
          await fh0.close();
        }
      }
      const fh = await open(tmp, 'r+');
      try {
        // Drop the old extra-lease block so a write past the end reads zeros, not leases.
        await fh.truncate(MUTABLE_DATA_OFFSET + header.dataLength);
        let dataLength = header.dataLength;
        for (const w of change.writes ?? []) {
          if (w.data.length === 0) continue;
          await fh.write(w.data, 0, w.data.length, MUTABLE_DATA_OFFSET + w.offset);
          dataLength = Math.max(dataLength, w.offset + w.data.length);
        }
        if (change.newLength !== undefined && change.newLength !== null && change.newLength < dataLength) {
          dataLength = change.newLength;
          await fh.truncate(MUTABLE_DATA_OFFSET + dataLength);
        }
        if (change.lease && change.leaseExpiry !== undefined) {
          const match = leases.find((l) => secretMatches(header.version, l.renewSecret, change.lease?.renewSecret ?? new Uint8Array()));
          if (match) match.expirationTime = Math.max(match.expirationTime, change.leaseExpiry);
          else {
            leases.push({
              ownerNumber: 1,
              renewSecret: storedSecret(header.version, change.lease.renewSecret),
              cancelSecret: storedSecret(header.version, change.lease.cancelSecret),
              expirationTime: change.leaseExpiry,
              nodeId: this.nodeId,
            });
          }
        }
        const extraLeaseOffset = MUTABLE_DATA_OFFSET + dataLength;
        const newHeader = { ...header, dataLength, extraLeaseOffset };
        await fh.write(encodeMutableHeader(newHeader), 0, MUTABLE_HEADER_SIZE, 0);
        const slots = Buffer.concat(Array.from({ length: MUTABLE_LEASE_SLOTS }, (_, i) => encodeMutableLease(leases[i])));
        await fh.write(slots, 0, slots.length, MUTABLE_HEADER_SIZE);
        const extra = leases.slice(MUTABLE_LEASE_SLOTS);
        const count = Buffer.alloc(4);
        count.writeUInt32BE(extra.length, 0);
        const extraBlock = Buffer.concat([count, ...extra.map((l) => encodeMutableLease(l))]);
        await fh.write(extraBlock, 0, extraBlock.length, extraLeaseOffset);
        await fh.truncate(extraLeaseOffset + extraBlock.length);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const firstCreated = await mkdir(path.dirname(file), { recursive: true });
      await rename(tmp, file);
      await syncDir(path.dirname(file));
      await syncCreatedDirEntries(firstCreated, path.dirname(file));
    }).catch(async (e: unknown) => {
      await rm(tmp, { force: true });
      throw e;
    });
  }

  // ------------------------------------------------------------------ corruption advice

  async adviseCorrupt(kind: ShareKind, si: string, shnum: number, reason: string): Promise<void> {
    const present = kind === 'immutable' ? await this.listImmutable(si) : await this.listMutable(si);
    if (!present.includes(shnum)) throw rejection('not-found', `no ${kind} share ${shnum} for this storage index`);
    this.log.warn(`client reports ${kind} share ${shnum} of SI ${si} as corrupt`);
    if (this.advisoryCount >= this.maxAdvisories) {
      this.log.warn(`not recording the corruption advisory: ${this.maxAdvisories} are already stored in ${this.advisoryDir}`);
      return;
    }
    const stamp = new Date(this.clock()).toISOString().replace(/[:.]/g, '');
    const file = path.join(this.advisoryDir, `${stamp}--${si}-${shnum}`);
    const text = `report: Share Corruption\ntype: ${kind}\nstorage_index: ${si}\nshare_number: ${shnum}\n\n${reason}\n\n`;
    await diskOp(`write ${file}`, () => writeFile(file, text, { mode: 0o600, flag: 'wx' })).catch((e: unknown) => {
      if (!(e instanceof TahoeError && /EEXIST/.test(e.message))) throw e;
    });
    this.advisoryCount++;
  }

  // ------------------------------------------------------------------ expiry

  /**
   * One pass of the lease-expiry crawler: delete every share of an enabled type whose
   * leases have all expired under `policy` (a share with no lease at all counts as
   * expired, as in Tahoe's expirer). Yields to the event loop between storage indexes.
   */
  async expireLeases(policy: ExpiryPolicy, signal?: AbortSignal): Promise<ExpiryReport> {
    const report: ExpiryReport = { examinedShares: 0, deletedShares: 0, deletedBytes: 0 };
    const nowSec = this.nowSeconds();
    let prefixes: string[];
    try {
      prefixes = (await readdir(this.sharesDir)).filter((p) => /^[a-z2-7]{2}$/.test(p)).sort();
    } catch (e) {
      throw diskError(`cannot list ${this.sharesDir}`, e);
    }
    for (const prefix of prefixes) {
      let sis: string[];
      try {
        sis = (await readdir(path.join(this.sharesDir, prefix))).filter((s) => s.startsWith(prefix) && isStorageIndex(s));
      } catch {
        continue;
      }
      for (const si of sis) {
        if (signal?.aborted || this.closed) return report;
        await this.siLock.run(si, async () => {
          for (const [, share] of await this.listShares(si)) {
            if (!policy.shareTypes.has(share.kind)) continue;
            let info: Awaited<ReturnType<ShareStore['leasesOf']>>;
            try {
              info = await this.leasesOf(share.file);
            } catch (e) {
              if (!(e instanceof TahoeError && e.kind === 'ShareCorrupt')) throw e;
              this.log.warn(`lease expiry skips a damaged share: ${e.message}`);
              continue;
            }
            if (!info) continue;
            report.examinedShares++;
            const alive = info.leases.some((l) => !leaseExpired(l, policy, nowSec, this.leaseDuration));
            if (alive) continue;
            await diskOp(`delete ${share.file}`, () => unlink(share.file));
            report.deletedShares++;
            report.deletedBytes += info.size;
            this.log.info(`expired ${share.kind} share of SI ${si}: all ${info.leases.length} lease(s) expired`);
          }
          await removeEmptyDirs(this.siDir(si), 2, this.sharesDir);
        });
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return report;
  }
}

export function leaseExpired(lease: StoredLease, policy: ExpiryPolicy, nowSec: number, leaseDuration = DEFAULT_LEASE_DURATION_SECONDS): boolean {
  // Tahoe records only the expiry; the grant time is inferred from the fixed duration.
  const granted = lease.expirationTime - leaseDuration;
  if (policy.mode === 'cutoff-date') return granted < (policy.cutoffDate ?? 0);
  if (policy.overrideLeaseDurationSeconds !== undefined) return nowSec - granted > policy.overrideLeaseDurationSeconds;
  return lease.expirationTime < nowSec;
}

// ------------------------------------------------------------------ helpers

/** A header whose leases cannot fit in the file is damaged: refuse to interpret it. */
function checkImmutableHeader(header: { leaseCount: number }, size: number, file: string): void {
  if (IMMUTABLE_HEADER_SIZE + header.leaseCount * IMMUTABLE_LEASE_SIZE > size) {
    throw new TahoeError('ShareCorrupt', `${file}: the header counts ${header.leaseCount} leases, more than the file can hold`, {
      hint: 'the share file is damaged; move it out of the storage directory (clients will use other shares)',
    });
  }
}

async function readKind(file: string): Promise<{ kind: ShareKind; version: number } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(32);
    const { bytesRead } = await fh.read(head, 0, 32, 0);
    return containerKind(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function readMutableHeader(file: string): Promise<MutableHeader | undefined> {
  const fh = await diskOp(`open ${file}`, () => open(file, 'r'));
  try {
    const head = Buffer.alloc(MUTABLE_HEADER_SIZE);
    const { bytesRead } = await fh.read(head, 0, MUTABLE_HEADER_SIZE, 0);
    return decodeMutableHeader(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function readMutableLeases(fh: FileHandle): Promise<{ header: MutableHeader; leases: StoredLease[] }> {
  const head = Buffer.alloc(MUTABLE_DATA_OFFSET);
  const { bytesRead } = await fh.read(head, 0, MUTABLE_DATA_OFFSET, 0);
  const header = decodeMutableHeader(head.subarray(0, bytesRead));
  if (header === undefined || bytesRead < MUTABLE_DATA_OFFSET) throw new TahoeError('ShareCorrupt', 'mutable container header is damaged');
  const leases: StoredLease[] = [];
  for (let i = 0; i < MUTABLE_LEASE_SLOTS; i++) {
    const l = decodeMutableLease(head.subarray(MUTABLE_HEADER_SIZE + i * MUTABLE_LEASE_SIZE, MUTABLE_HEADER_SIZE + (i + 1) * MUTABLE_LEASE_SIZE));
    if (l) leases.push(l);
  }
  const countBuf = Buffer.alloc(4);
  const { bytesRead: c } = await fh.read(countBuf, 0, 4, header.extraLeaseOffset);
  if (c === 4) {
    const count = countBuf.readUInt32BE(0);
    const block = Buffer.alloc(Math.min(count, 100_000) * MUTABLE_LEASE_SIZE);
    const { bytesRead: b } = await fh.read(block, 0, block.length, header.extraLeaseOffset + 4);
    for (let i = 0; (i + 1) * MUTABLE_LEASE_SIZE <= b; i++) {
      const l = decodeMutableLease(block.subarray(i * MUTABLE_LEASE_SIZE, (i + 1) * MUTABLE_LEASE_SIZE));
      if (l) leases.push(l);
    }
  }
  return { header, leases };
}

async function readMutableData(file: string, header: MutableHeader, offset: number, size: number): Promise<Buffer> {
  const n = Math.max(0, Math.min(size, header.dataLength - offset));
  if (n === 0) return Buffer.alloc(0);
  const fh = await diskOp(`open ${file}`, () => open(file, 'r'));
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, MUTABLE_DATA_OFFSET + offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * `mkdir -p` created `first` … `last`: fsync each one's parent, so that the new directory
 * entries (and with them the share renamed into `last`) survive a crash (fsync(2)).
 */
async function syncCreatedDirEntries(first: string | undefined, last: string): Promise<void> {
  if (first === undefined) return;
  for (let d = path.resolve(last); d !== path.dirname(d); d = path.dirname(d)) {
    await syncDir(path.dirname(d));
    if (d === path.resolve(first)) return;
  }
}

/** Remove `dir` and up to `levels - 1` parents while they are empty (never `stopAt`). */
async function removeEmptyDirs(dir: string, levels: number, stopAt?: string): Promise<void> {
  let d = dir;
  for (let i = 0; i < levels; i++) {
    if (stopAt !== undefined && path.resolve(d) === path.resolve(stopAt)) return;
    try {
      await rmdir(d);
    } catch {
      return; // not empty (another share or upload), or already gone
    }
    d = path.dirname(d);
  }
}

function diskError(message: string, cause: unknown): TahoeError {
  if (cause instanceof TahoeError) return cause;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new TahoeError('DiskError', `${message}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`, {
    cause,
    details: { code },
    hint: code === 'ENOSPC' ? 'the disk is full: free space or raise [storage] reserved_space so the server stops accepting shares earlier' : 'check free space and permissions of the node directory\'s storage/ folder',
  });
}

async function diskOp<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw diskError(`cannot ${what}`, e);
  }
}

/** For tests and tools: the stat of a share file. */
export async function shareFileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}
