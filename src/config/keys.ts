/**
 * The key and secret files of a node directory, read and written the way Tahoe-LAFS 1.20
 * lays them out, but stricter: `private/` is 0700, every file in it 0600, and every write
 * is atomic and durable (temporary file, fsync, rename or link, fsync of the directory),
 * so a crash never leaves a half-written or vanished key.
 *
 * Spec: shared/specs/configuration.md §6 (layout), storage-protocol.md §1 (node key,
 * node.pem), tahoe-formats.md §7 (permutation-seed), anonymity-checklist.md AN-5.1, G-8.
 * Files: `private/node.privkey` (`priv-v0-…`), `node.pubkey` (`pub-v0-…`),
 * `private/node.pem` (TLS certificate + key), `private/convergence` and `private/secret`
 * (base32 of 32 random bytes, newline-terminated), `permutation-seed`,
 * `private/introducers.yaml`.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { TahoeError } from '../errors.js';
import { base32Decode, base32Encode, isBase32 } from '../crypto/base32.js';
import { createNodeCertificate, parseNodePem, type NodeCertificate } from '../crypto/certificate.js';
import { NodeKey, parseNodePrivateKey, permutationSeedOf } from '../crypto/node-key.js';
import { parseFurl, parseNurl } from '../net/hints.js';
import { decodeCfgBytes, editCfgText, type CfgEdit } from './cfg.js';

export const PRIVATE_DIR = 'private';
export const FILES = {
  nodePrivkey: 'private/node.privkey',
  nodePubkey: 'node.pubkey',
  nodePem: 'private/node.pem',
  convergence: 'private/convergence',
  secret: 'private/secret',
  introducers: 'private/introducers.yaml',
  readme: 'private/README',
  torOnionPrivkey: 'private/tor_onion.privkey',
  i2pDestPrivkey: 'private/i2p_dest.privkey',
  permutationSeed: 'permutation-seed',
  myNodeid: 'my_nodeid',
} as const;

function diskError(cause: unknown, file: string, action: string): TahoeError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new TahoeError('NodeDirInvalid', `permission denied to ${action} ${file}`, {
      hint: `run tahoe-ts as the owner of the node directory (ls -l ${path.dirname(file)})`,
      cause,
      details: { file, code },
    });
  }
  return new TahoeError('DiskError', `cannot ${action} ${file}: ${code ?? String(cause)}`, { cause, details: { file, code } });
}

function temporaryName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

async function writeTemporary(target: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = temporaryName(target);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
    await handle.writeFile(data);
    // The umask may have narrowed the mode; make it exactly what was asked for.
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    return tmp;
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw diskError(cause, target, 'write');
  }
}

/**
 * Make a rename or link in `dir` durable: without this a power cut can lose a file that
 * was already used (a node key whose server ID was announced comes back as nothing).
 */
async function syncDirectory(dir: string, target: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (cause) {
    throw diskError(cause, target, 'write');
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Write a file atomically with the given mode (temporary file + fsync + rename + directory fsync). Replaces. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = await writeTemporary(target, data, mode);
  try {
    await fs.rename(tmp, target);
  } catch (cause) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw diskError(cause, target, 'write');
  }
  await syncDirectory(path.dirname(target), target);
}

/**
 * Write a file atomically only if it does not exist yet (temporary file + link, which
 * fails on an existing target). Returns false, leaving the existing file alone, if it exists.
 */
export async function createFileAtomic(target: string, data: string | Uint8Array, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemporary(target, data, mode);
  try {
    await fs.link(tmp, target);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw diskError(cause, target, 'create');
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
  await syncDirectory(path.dirname(target), target);
  return true;
}

/** Create `private/` with mode 0700 (or tighten an existing one we own). */
export async function ensurePrivateDirectory(nodeDirectory: string): Promise<string> {
  const dir = path.join(nodeDirectory, PRIVATE_DIR);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
  } catch (cause) {
    throw diskError(cause, dir, 'create');
  }
  return dir;
}

/** Write a secret file under the node directory: 0600, atomic, `private/` created 0700. */
export async function writePrivateFile(nodeDirectory: string, relative: string, data: string | Uint8Array): Promise<void> {
  await ensurePrivateDirectory(nodeDirectory);
  await writeFileAtomic(path.join(nodeDirectory, relative), data, 0o600);
}

/** Read a text file under the node directory; undefined when it does not exist. */
export async function readNodeFile(nodeDirectory: string, relative: string): Promise<string | undefined> {
  const file = path.join(nodeDirectory, relative);
  try {
    return await fs.readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw diskError(cause, file, 'read');
  }
}

// ---------------------------------------------------------------------------------------
// Node key

/** The node's Ed25519 key from `private/node.privkey`; undefined when the file is missing. */
export async function readNodeKey(nodeDirectory: string): Promise<NodeKey | undefined> {
  const text = await readNodeFile(nodeDirectory, FILES.nodePrivkey);
  if (text === undefined) return undefined;
  try {
    return parseNodePrivateKey(text);
  } catch (cause) {
    const e = cause as TahoeError;
    throw new TahoeError('NodeDirInvalid', `${path.join(nodeDirectory, FILES.nodePrivkey)} is damaged: ${e.message}`, { hint: e.hint, cause });
  }
}

/** Write the node key (`private/node.privkey`, 0600) and `node.pubkey`, as Tahoe does at first start. */
export async function writeNodeKey(nodeDirectory: string, key: NodeKey): Promise<void> {
  await ensurePrivateDirectory(nodeDirectory);
  const created = await createFileAtomic(path.join(nodeDirectory, FILES.nodePrivkey), key.privateKeyString() + '\n', 0o600);
  if (!created) {
    throw new TahoeError('NodeDirInvalid', `${path.join(nodeDirectory, FILES.nodePrivkey)} already exists`, {
      hint: 'tahoe-ts never replaces a node key (it is the node\'s identity); move the old one away first if you really mean to',
    });
  }
  await writeFileAtomic(path.join(nodeDirectory, FILES.nodePubkey), key.publicKeyString() + '\n', 0o644);
}

/** The node key, created (and node.pubkey written) on first use. */
export async function loadOrCreateNodeKey(nodeDirectory: string): Promise<NodeKey> {
  const existing = await readNodeKey(nodeDirectory);
  if (existing !== undefined) return existing;
  const key = NodeKey.generate();
  await ensurePrivateDirectory(nodeDirectory);
  if (!(await createFileAtomic(path.join(nodeDirectory, FILES.nodePrivkey), key.privateKeyString() + '\n', 0o600))) {
    // Another process won the race: use its key.
    return (await readNodeKey(nodeDirectory)) as NodeKey;
  }
  await writeFileAtomic(path.join(nodeDirectory, FILES.nodePubkey), key.publicKeyString() + '\n', 0o644);
  return key;
}

// ---------------------------------------------------------------------------------------
// Secrets

export type SecretName = 'convergence' | 'secret';

/** A fresh secret file body: base32 of 32 random bytes and a newline (Tahoe's `_make_secret`). */
export function newSecretText(): string {
  return base32Encode(randomBytes(32)) + '\n';
}

/**
 * Read `private/convergence` or `private/secret` (undefined when missing). An empty
 * convergence file means an empty secret, as in Tahoe.
 */
export async function readSecret(nodeDirectory: string, name: SecretName): Promise<Buffer | undefined> {
  const text = await readNodeFile(nodeDirectory, `private/${name}`);
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!isBase32(t)) {
    throw new TahoeError('NodeDirInvalid', `${path.join(nodeDirectory, 'private', name)} is not a base32 secret`, {
      hint: name === 'convergence'
        ? 'restore private/convergence from a backup: a different convergence secret gives different caps for the same files'
        : 'restore private/secret from a backup; without it the node cannot renew or cancel its existing leases',
    });
  }
  return base32Decode(t, name);
}

/** The secret, created on first use. */
export async function loadOrCreateSecret(nodeDirectory: string, name: SecretName): Promise<Buffer> {
  const existing = await readSecret(nodeDirectory, name);
  if (existing !== undefined) return existing;
  await ensurePrivateDirectory(nodeDirectory);
  await createFileAtomic(path.join(nodeDirectory, 'private', name), newSecretText(), 0o600);
  return (await readSecret(nodeDirectory, name)) as Buffer;
}

// ---------------------------------------------------------------------------------------
// TLS identity (private/node.pem)

export async function readNodeCertificate(nodeDirectory: string): Promise<NodeCertificate | undefined> {
  const text = await readNodeFile(nodeDirectory, FILES.nodePem);
  return text === undefined ? undefined : parseNodePem(text, path.join(nodeDirectory, FILES.nodePem));
}

/** The node's TLS certificate and key, created (RSA-2048, like Foolscap) on first use. */
export async function loadOrCreateNodeCertificate(nodeDirectory: string): Promise<NodeCertificate> {
  const existing = await readNodeCertificate(nodeDirectory);
  if (existing !== undefined) return existing;
  const cert = await createNodeCertificate();
  await ensurePrivateDirectory(nodeDirectory);
  if (!(await createFileAtomic(path.join(nodeDirectory, FILES.nodePem), cert.nodePem, 0o600))) {
    return (await readNodeCertificate(nodeDirectory)) as NodeCertificate;
  }
  return cert;
}

// ---------------------------------------------------------------------------------------
// permutation-seed

/** Write `permutation-seed` for a new storage server (never replaces an existing one). */
export async function writePermutationSeed(nodeDirectory: string, key: NodeKey): Promise<void> {
  await createFileAtomic(path.join(nodeDirectory, FILES.permutationSeed), permutationSeedOf(key.publicKey) + '\n', 0o644);
}

// ---------------------------------------------------------------------------------------
// private/introducers.yaml

/** Introducers by petname → fURL (secret: the fURL grants access to the grid). */
export type Introducers = Record<string, string>;

function introducersError(file: string, problem: string, cause?: unknown): TahoeError {
  return new TahoeError('ConfigInvalid', `${file}: ${problem}`, {
    hint: 'the file must look like:\nintroducers:\n  default:\n    furl: "pb://…"\n(one entry per introducer petname)',
    cause,
    details: { file },
  });
}

/** Parse introducers.yaml text (YAML 1.1, as PyYAML writes it). */
export function parseIntroducersYaml(text: string, file: string = FILES.introducers): Introducers {
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: '1.1' });
  } catch (cause) {
    throw introducersError(file, `is not valid YAML (${(cause as Error).message.split('\n')[0]})`, cause);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw introducersError(file, 'does not hold a mapping');
  const intro = (doc as Record<string, unknown>).introducers;
  if (intro === null || intro === undefined) return {};
  if (typeof intro !== 'object' || Array.isArray(intro)) throw introducersError(file, '"introducers" is not a mapping of petnames');
  const out: Introducers = {};
  for (const [petname, entry] of Object.entries(intro as Record<string, unknown>)) {
    const furl = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).furl : undefined;
    if (typeof furl !== 'string') throw introducersError(file, `introducer "${petname}" has no furl`);
    try {
      checkIntroducerUrl(furl);
    } catch (cause) {
      const e = cause as TahoeError;
      throw new TahoeError('ConfigInvalid', `${file}: introducer "${petname}": ${e.message}`, { hint: e.hint, cause, details: { file } });
    }
    out[String(petname)] = furl;
  }
  return out;
}

/**
 * What an introducer entry may hold: the fURL-form line (`pb://TUBID@HINT,HINT/SWISSNUM`)
 * or one or more HTTPS NURLs of one introducer (`pb://HASH@HOST:PORT/SWISSNUM#v=1`,
 * `pb+tor://…`, `pb+i2p://…`), separated by spaces or commas. The introducer client does
 * the full check (same pin and swissnum across NURLs) when it starts.
 */
export function checkIntroducerUrl(text: string): void {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new TahoeError('ConfigInvalid', 'the introducer URL is empty', { hint: 'copy a line of the introducer\'s private/introducer.furl' });
  if (!words.some((w) => w.includes('#'))) {
    if (words.length > 1) throw new TahoeError('ConfigInvalid', 'the introducer URL has several fURLs', { hint: 'give one fURL or NURL per petname' });
    parseFurl(words[0]);
    return;
  }
  for (const w of words.flatMap((x) => x.split(',')).filter((x) => x !== '')) parseNurl(w);
}

export function formatIntroducersYaml(introducers: Introducers): string {
  const doc = { introducers: Object.fromEntries(Object.entries(introducers).map(([p, furl]) => [p, { furl }])) };
  return stringifyYaml(doc, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
}

export async function readIntroducers(nodeDirectory: string): Promise<Introducers> {
  const text = await readNodeFile(nodeDirectory, FILES.introducers);
  return text === undefined ? {} : parseIntroducersYaml(text, path.join(nodeDirectory, FILES.introducers));
}

export async function writeIntroducers(nodeDirectory: string, introducers: Introducers): Promise<void> {
  for (const furl of Object.values(introducers)) checkIntroducerUrl(furl);
  await writePrivateFile(nodeDirectory, FILES.introducers, formatIntroducersYaml(introducers));
}

// ---------------------------------------------------------------------------------------
// tahoe.cfg edits

/**
 * Set or remove keys of a node's tahoe.cfg in place (see cfg.ts `editCfgText`: comments,
 * order, BOM and line ends are kept), written atomically with the file's mode unchanged.
 */
export async function editTahoeCfg(nodeDirectory: string, edits: CfgEdit[]): Promise<void> {
  const file = path.join(nodeDirectory, 'tahoe.cfg');
  let bytes: Buffer;
  let fileMode: number;
  try {
    bytes = await fs.readFile(file);
    fileMode = (await fs.stat(file)).mode & 0o777;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TahoeError('NodeDirInvalid', `${file} does not exist`, { hint: 'create the node first with `tahoe-ts create-node DIR`', cause });
    }
    throw diskError(cause, file, 'read');
  }
  // Keep a BOM: decodeCfgBytes drops it, the editor puts back what it is given.
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? '\ufeff' : '';
  const text = bom + decodeCfgBytes(bytes, file);
  await writeFileAtomic(file, editCfgText(text, edits, file), fileMode);
}
