/**
 * Onion service v3 keys: generation, the `ED25519-V3:` key blob of tor's control protocol,
 * the address a blob stands for, and the on-disk forms (Tahoe's `private/tor_onion.privkey`
 * and tor's HiddenServiceDir layout).
 *
 * Specs: torspec `rend-spec-v3.txt` §6 (address = base32(PUBKEY ‖ CHECKSUM ‖ 0x03)),
 * `control-spec.txt` §3.27 (ADD_ONION key blob), RFC 8032 §5.1 (Edwards25519 arithmetic),
 * summarised in shared/specs/tor.md §3.
 *
 * The blob is the *expanded* secret key: the clamped scalar a (32 bytes, little-endian) ‖
 * the PRF half, i.e. SHA-512(seed) with the usual clamping. It does not contain the seed,
 * so node:crypto (which only derives public keys from seeds) cannot turn a blob made by tor
 * or by Tahoe into its address; we compute a·B ourselves with BigInt arithmetic. That is
 * slow compared to native code (a few milliseconds) but runs once per onion service.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TahoeError } from '../../errors.js';
import { writeKeyFile } from '../key-file.js';
import { onionAddressFromPublicKey } from './onion-address.js';

export { onionAddressFromPublicKey };

export const ONION_KEY_BLOB_PREFIX = 'ED25519-V3:';

/** A v3 onion service key as tor's ADD_ONION takes it, and the address it yields. */
export interface OnionKey {
  /** `ED25519-V3:<base64 of 64 bytes>`: secret, never log it. */
  readonly blob: string;
  /** `<56 base32 chars>.onion` */
  readonly address: string;
}

// ---------------------------------------------------------------------------------------
// Edwards25519 (RFC 8032 §5.1): just enough to compute scalar·B and encode the point.

const P = 2n ** 255n - 19n;
const mod = (a: bigint): bigint => {
  const r = a % P;
  return r >= 0n ? r : r + P;
};
function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}
const invert = (a: bigint): bigint => modPow(a, P - 2n);
const CURVE_D = mod(-121665n * invert(121666n));
const CURVE_2D = mod(2n * CURVE_D);

/** A point in extended homogeneous coordinates (x = X/Z, y = Y/Z, x·y = T/Z). */
interface ExtendedPoint {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

const BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
const BASE_POINT: ExtendedPoint = { X: BASE_X, Y: BASE_Y, Z: 1n, T: mod(BASE_X * BASE_Y) };
const IDENTITY: ExtendedPoint = { X: 0n, Y: 1n, Z: 1n, T: 0n };

// The unified addition law of RFC 8032 §5.1.4; it also doubles correctly.
function pointAdd(p: ExtendedPoint, q: ExtendedPoint): ExtendedPoint {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * CURVE_2D * q.T);
  const d = mod(p.Z * 2n * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function scalarMultiplyBase(scalar: bigint): ExtendedPoint {
  let result = IDENTITY;
  let addend = BASE_POINT;
  let k = scalar;
  while (k > 0n) {
    if (k & 1n) result = pointAdd(result, addend);
    addend = pointAdd(addend, addend);
    k >>= 1n;
  }
  return result;
}

function encodePoint(point: ExtendedPoint): Uint8Array {
  const zInverse = invert(point.Z);
  const x = mod(point.X * zInverse);
  let y = mod(point.Y * zInverse);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(y & 0xffn);
    y >>= 8n;
  }
  if (x & 1n) out[31] |= 0x80;
  return out;
}

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** The Ed25519 public key A = a·B for a 32-byte little-endian secret scalar a. */
export function ed25519PublicKeyFromScalar(scalar: Uint8Array): Uint8Array {
  if (scalar.length !== 32) throw new TahoeError('Internal', `an Ed25519 scalar has 32 bytes, not ${scalar.length}`);
  return encodePoint(scalarMultiplyBase(littleEndianToBigInt(scalar)));
}

// ---------------------------------------------------------------------------------------
// Addresses and blobs

/** The 64-byte expanded secret key (clamped scalar ‖ PRF secret) for a 32-byte seed. */
export function expandSeed(seed: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new TahoeError('Internal', `an Ed25519 seed has 32 bytes, not ${seed.length}`);
  const h = new Uint8Array(createHash('sha512').update(seed).digest());
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  return h;
}

export function blobFromExpandedKey(expanded: Uint8Array): string {
  if (expanded.length !== 64) throw new TahoeError('Internal', `an expanded Ed25519 key has 64 bytes, not ${expanded.length}`);
  return ONION_KEY_BLOB_PREFIX + Buffer.from(expanded).toString('base64');
}

// 64 bytes in base64 = 86 significant characters + "==". Buffer.from(…, 'base64') skips
// invalid characters silently, so the text is checked before it is decoded.
const BLOB_BASE64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/**
 * The 64-byte expanded secret key inside an `ED25519-V3:<base64>` blob. `source` names
 * where the blob came from (a file) for the error message; it makes the error a
 * configuration problem rather than bad input.
 */
export function parseOnionKeyBlob(blob: string, source?: string): Uint8Array {
  const where = source === undefined ? '' : ` in ${source}`;
  const kind = source === undefined ? 'BadInput' : 'ConfigInvalid';
  const text = blob.trim();
  if (!text.startsWith(ONION_KEY_BLOB_PREFIX)) {
    throw new TahoeError(kind, `onion service key${where} does not start with "${ONION_KEY_BLOB_PREFIX}"`, {
      hint: 'the key must be tor\'s ED25519-V3 blob as ADD_ONION returns it (RSA1024 v2 keys are no longer supported by tor)',
      details: { source },
    });
  }
  const body = text.slice(ONION_KEY_BLOB_PREFIX.length);
  if (!BLOB_BASE64.test(body)) {
    throw new TahoeError(kind, `onion service key${where} is not base64 of 64 bytes`, {
      hint: 'the file looks truncated or edited; restore it from a backup, or delete it to get a new onion address',
      details: { source, length: body.length },
    });
  }
  return new Uint8Array(Buffer.from(body, 'base64'));
}

/** The onion address a key blob stands for (works for blobs made by tor or Tahoe, too). */
export function onionAddressFromBlob(blob: string): string {
  const expanded = parseOnionKeyBlob(blob);
  return onionAddressFromPublicKey(ed25519PublicKeyFromScalar(expanded.subarray(0, 32)));
}

/** Key for a given seed: deterministic, used for known answers and tests. */
export function onionKeyFromSeed(seed: Uint8Array): OnionKey {
  const expanded = expandSeed(seed);
  return { blob: blobFromExpandedKey(expanded), address: onionAddressFromPublicKey(ed25519PublicKeyFromSeed(seed)) };
}

// PKCS#8 / SPKI DER prefixes for Ed25519 (RFC 8410): the raw key is the last 32 bytes.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function ed25519PublicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32));
}

/**
 * A new onion service key, offline: the node knows its .onion address before tor is
 * reachable (create-node --listen=tor writes it into tub.location).
 */
export function generateOnionKey(): OnionKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const key = { blob: blobFromExpandedKey(expandSeed(seed)), address: onionAddressFromPublicKey(pub) };
  seed.fill(0);
  return key;
}

// ---------------------------------------------------------------------------------------
// Files. Key files are 0600 and their directories 0700; anything looser is refused,
// because a readable key lets anyone impersonate the onion service.

/** Refuse a private file or directory that others can access or that is not ours. */
export async function checkPrivatePermissions(target: string, expect: 'file' | 'directory'): Promise<void> {
  let st;
  try {
    st = await fs.stat(target);
  } catch (cause) {
    throw fileError(cause, target, 'check');
  }
  if (expect === 'file' ? !st.isFile() : !st.isDirectory()) {
    throw new TahoeError('NodeDirInvalid', `${target} is not a ${expect}`, {
      hint: `expected a ${expect} at ${target}; move whatever is there out of the way`,
      details: { path: target },
    });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new TahoeError('NodeDirInvalid', `${target} belongs to uid ${st.uid}, not to the user running tahoe-ts (uid ${uid})`, {
      hint: `run tahoe-ts as the owner of ${target}, or copy the key to a ${expect} you own (chown)`,
      details: { path: target, uid: st.uid },
    });
  }
  const loose = st.mode & 0o077;
  if (loose !== 0) {
    const wanted = expect === 'file' ? '600' : '700';
    throw new TahoeError('NodeDirInvalid', `${target} is accessible by other users (mode ${(st.mode & 0o777).toString(8)})`, {
      hint: `chmod ${wanted} ${target} — a readable onion key lets anyone impersonate the service`,
      details: { path: target, mode: (st.mode & 0o777).toString(8) },
    });
  }
}

function fileError(cause: unknown, target: string, action: string): TahoeError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new TahoeError('NodeDirInvalid', `${target} does not exist`, {
      cause,
      hint: 'check the path in tahoe.cfg; a missing onion key is created only where tahoe-ts is asked to create it',
      details: { path: target, code },
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new TahoeError('NodeDirInvalid', `permission denied to ${action} ${target}`, {
      cause,
      hint: `run tahoe-ts as the owner of ${target} (a HiddenServiceDir of the system tor belongs to debian-tor)`,
      details: { path: target, code },
    });
  }
  return new TahoeError('DiskError', `cannot ${action} ${target}: ${code ?? String(cause)}`, { cause, details: { path: target, code } });
}

/** Create a directory with mode 0700 (and parents), or check an existing one. */
async function ensurePrivateDirectory(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw fileError(cause, dir, 'create');
  }
  await checkPrivatePermissions(dir, 'directory');
}

/** Write a key file whole and durably, mode 0600 (net/key-file.ts). */
async function writePrivateFile(target: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeKeyFile(target, data);
  } catch (cause) {
    throw fileError(cause, target, 'write');
  }
}

async function readPrivateFile(target: string): Promise<Buffer> {
  await checkPrivatePermissions(target, 'file');
  try {
    return await fs.readFile(target);
  } catch (cause) {
    throw fileError(cause, target, 'read');
  }
}

/** Read Tahoe's `private/tor_onion.privkey` (the blob, possibly with a trailing newline). */
export async function readOnionKeyFile(file: string): Promise<OnionKey> {
  const text = (await readPrivateFile(file)).toString('utf8');
  const blob = text.trim();
  const expanded = parseOnionKeyBlob(blob, file);
  return { blob, address: onionAddressFromPublicKey(ed25519PublicKeyFromScalar(expanded.subarray(0, 32))) };
}

/** Write the blob the way Tahoe 1.20 does (no newline), mode 0600, creating the directory 0700. */
export async function writeOnionKeyFile(file: string, key: OnionKey): Promise<void> {
  parseOnionKeyBlob(key.blob);
  await ensurePrivateDirectory(path.dirname(file));
  await writePrivateFile(file, key.blob);
}

// tor's key file headers (src/lib/crypt_ops/crypto_format.c): 32 bytes, NUL-padded.
const SECRET_KEY_HEADER = fileHeader('== ed25519v1-secret: type0 ==');
const PUBLIC_KEY_HEADER = fileHeader('== ed25519v1-public: type0 ==');
function fileHeader(text: string): Uint8Array {
  const header = new Uint8Array(32);
  header.set(Buffer.from(text, 'latin1'));
  return header;
}

export const HS_SECRET_KEY_FILE = 'hs_ed25519_secret_key';
export const HS_PUBLIC_KEY_FILE = 'hs_ed25519_public_key';
export const HS_HOSTNAME_FILE = 'hostname';

/**
 * Read a v3 HiddenServiceDir (tor's layout): the key comes from `hs_ed25519_secret_key`;
 * `hs_ed25519_public_key` and `hostname`, when present, must agree with it.
 */
export async function readHiddenServiceDir(dir: string): Promise<OnionKey> {
  await checkPrivatePermissions(dir, 'directory');
  const secretFile = path.join(dir, HS_SECRET_KEY_FILE);
  const secret = await readPrivateFile(secretFile);
  if (secret.length !== 96 || !Buffer.from(SECRET_KEY_HEADER).equals(secret.subarray(0, 32))) {
    throw new TahoeError('ConfigInvalid', `${secretFile} is not a tor v3 onion secret key`, {
      hint: 'expected 96 bytes starting with "== ed25519v1-secret: type0 =="; v2 (RSA) services are no longer supported by tor',
      details: { path: secretFile, length: secret.length },
    });
  }
  const expanded = new Uint8Array(secret.subarray(32));
  const publicKey = ed25519PublicKeyFromScalar(expanded.subarray(0, 32));
  const address = onionAddressFromPublicKey(publicKey);

  const publicFile = path.join(dir, HS_PUBLIC_KEY_FILE);
  const storedPublic = await readIfPresent(publicFile);
  if (storedPublic !== undefined) {
    const valid = storedPublic.length === 64 && Buffer.from(PUBLIC_KEY_HEADER).equals(storedPublic.subarray(0, 32));
    if (!valid || !Buffer.from(publicKey).equals(storedPublic.subarray(32))) {
      throw new TahoeError('ConfigInvalid', `${publicFile} does not match ${HS_SECRET_KEY_FILE}`, {
        hint: `the files in ${dir} come from different services; delete ${HS_PUBLIC_KEY_FILE} and ${HS_HOSTNAME_FILE} (they are recreated from the secret key)`,
        details: { path: publicFile },
      });
    }
  }
  const hostnameFile = path.join(dir, HS_HOSTNAME_FILE);
  const storedHostname = await readIfPresent(hostnameFile);
  if (storedHostname !== undefined && storedHostname.toString('utf8').trim() !== address) {
    throw new TahoeError('ConfigInvalid', `${hostnameFile} does not match ${HS_SECRET_KEY_FILE}`, {
      hint: `delete ${hostnameFile}: it is recreated from the secret key`,
      details: { path: hostnameFile },
    });
  }
  return { blob: blobFromExpandedKey(expanded), address };
}

async function readIfPresent(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(cause, file, 'read');
  }
}

/** Write a key as a v3 HiddenServiceDir that tor itself could also use (dir 0700, files 0600). */
export async function writeHiddenServiceDir(dir: string, key: OnionKey): Promise<void> {
  const expanded = parseOnionKeyBlob(key.blob);
  const publicKey = ed25519PublicKeyFromScalar(expanded.subarray(0, 32));
  const address = onionAddressFromPublicKey(publicKey);
  await ensurePrivateDirectory(dir);
  await writePrivateFile(path.join(dir, HS_SECRET_KEY_FILE), Buffer.concat([SECRET_KEY_HEADER, expanded]));
  await writePrivateFile(path.join(dir, HS_PUBLIC_KEY_FILE), Buffer.concat([PUBLIC_KEY_HEADER, publicKey]));
  await writePrivateFile(path.join(dir, HS_HOSTNAME_FILE), `${address}\n`);
}

export type OnionKeyLocation = { keyFile: string } | { hiddenServiceDir: string };

/**
 * The persisted key of an onion service, created (and saved) when it does not exist yet,
 * so the service keeps its address across restarts.
 */
export async function loadOrCreateOnionKey(location: OnionKeyLocation): Promise<{ key: OnionKey; created: boolean }> {
  const probe = 'keyFile' in location ? location.keyFile : path.join(location.hiddenServiceDir, HS_SECRET_KEY_FILE);
  const exists = await fs.stat(probe).then(
    () => true,
    (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') return false;
      throw fileError(cause, probe, 'check');
    },
  );
  if (exists) {
    const key = 'keyFile' in location ? await readOnionKeyFile(location.keyFile) : await readHiddenServiceDir(location.hiddenServiceDir);
    return { key, created: false };
  }
  const key = generateOnionKey();
  if ('keyFile' in location) await writeOnionKeyFile(location.keyFile, key);
  else await writeHiddenServiceDir(location.hiddenServiceDir, key);
  return { key, created: true };
}
