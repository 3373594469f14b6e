/**
 * What must never appear in a log, on stderr, in an error message or on a web page
 * (anonymity-checklist AN-9), gathered from the node directories of a session, and a scan
 * that reports which of them did appear — by name only, so a failing test does not print
 * the secret it found.
 *
 * Secrets (never shown, even with `log_sensitive = true`): node signing key, TLS private
 * key, onion and I2P private keys, lease secret and the per-server lease secrets derived
 * from it, convergence secret, storage and introducer swissnums, the web API token, caps
 * and their keys. Addresses (shown only with `log_sensitive = true`): onion addresses,
 * I2P addresses, non-loopback IP addresses.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { base32Decode, base32Encode } from '../../src/crypto/base32.js';
import { leaseSecretsFor } from '../../src/crypto/lease-secrets.js';
import { chkStorageIndex, parseChkCap } from '../../src/caps/caps.js';

export interface Needle {
  kind: 'secret' | 'address';
  /** What it is, e.g. "server0 storage swissnum" (safe to print). */
  name: string;
  value: string;
}

function read(dir: string, rel: string): string | undefined {
  const p = path.join(dir, rel);
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

/** The last path segment of a fURL/NURL: its swissnum. */
function swissnumsOf(text: string): string[] {
  return [...text.matchAll(/pb(?:\+tor|\+i2p)?:\/\/[^\s/]+\/([A-Za-z0-9_-]+)/g)].map((m) => m[1]);
}

function variants(name: string, bytes: Buffer): Needle[] {
  return [
    { kind: 'secret', name: `${name} (base32)`, value: base32Encode(bytes) },
    { kind: 'secret', name: `${name} (base64)`, value: bytes.toString('base64').replace(/=+$/, '') },
    { kind: 'secret', name: `${name} (hex)`, value: bytes.toString('hex') },
  ];
}

/** Secrets kept in one node directory. */
export function nodeSecrets(dir: string, label = path.basename(dir)): Needle[] {
  const out: Needle[] = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined && value.length >= 16) out.push({ kind: 'secret', name: `${label} ${name}`, value });
  };
  const priv = read(dir, 'private/node.privkey');
  add('node signing key', priv);
  add('node signing key body', priv?.replace(/^priv-v0-/, ''));
  for (const name of ['secret', 'convergence'] as const) {
    const text = read(dir, `private/${name}`);
    if (text !== undefined && text !== '') out.push(...variants(`${label} ${name === 'secret' ? 'lease secret' : 'convergence secret'}`, base32Decode(text)));
  }
  // private/introducer.furl holds the introducer's NURLs (older introducers: the fURL form).
  for (const file of ['private/storage.furl', 'private/introducer.furl']) {
    const text = read(dir, file);
    if (text !== undefined) for (const s of swissnumsOf(text)) add(`swissnum from ${file}`, s);
  }
  add('web API token', read(dir, 'private/api_auth_token'));
  const onionKey = read(dir, 'private/tor_onion.privkey');
  add('onion private key', onionKey?.replace(/^ED25519-V3:/, ''));
  const i2pKey = read(dir, 'private/i2p_dest.privkey');
  add('I2P private destination', i2pKey);
  add('I2P private destination (prefix)', i2pKey?.slice(0, 40));
  add('I2P private destination (tail)', i2pKey?.slice(-40));
  const pem = read(dir, 'private/node.pem');
  const keyBlock = pem === undefined ? undefined : /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----([\s\S]*?)-----END/.exec(pem)?.[1];
  for (const line of keyBlock?.split('\n').map((l) => l.trim()).filter((l) => l.length >= 32) ?? []) add('TLS private key', line);
  return out;
}

/** A cap and its key, plus the lease secrets its upload sent to each server (`servers`: their directories). */
export function capSecrets(cap: string, clientDir: string, servers: readonly string[]): Needle[] {
  const out: Needle[] = [{ kind: 'secret', name: 'cap', value: cap }];
  const parsed = parseChkCap(cap);
  out.push({ kind: 'secret', name: 'cap key', value: base32Encode(parsed.key) });
  const leaseText = read(clientDir, 'private/secret');
  if (leaseText === undefined) return out;
  const lease = base32Decode(leaseText);
  const si = chkStorageIndex(parsed);
  for (const dir of servers) {
    const tubId = read(dir, 'my_nodeid');
    if (tubId === undefined) continue;
    const secrets = leaseSecretsFor(lease, si, base32Decode(tubId));
    out.push(...variants(`renew secret for ${path.basename(dir)}`, secrets.renew), ...variants(`cancel secret for ${path.basename(dir)}`, secrets.cancel));
  }
  return out;
}

/** Onion and I2P addresses a node announces (from its tub.location). */
export function nodeAddresses(dir: string, label = path.basename(dir)): Needle[] {
  const cfg = read(dir, 'tahoe.cfg') ?? '';
  const out: Needle[] = [];
  for (const m of cfg.matchAll(/\b([a-z2-7]{56})\.onion\b/g)) out.push({ kind: 'address', name: `${label} onion address`, value: m[1] });
  for (const m of cfg.matchAll(/\b([a-z2-7]{52})\.b32\.i2p\b/g)) out.push({ kind: 'address', name: `${label} I2P address`, value: m[1] });
  return out;
}

export interface Text {
  source: string;
  text: string;
}

export interface Hit {
  source: string;
  needle: string;
  kind: Needle['kind'];
}

/** Which needles occur in which texts (case-insensitive for addresses, exact for secrets). */
export function scanTexts(texts: readonly Text[], needles: readonly Needle[]): Hit[] {
  const hits: Hit[] = [];
  const seen = new Set<string>();
  for (const { source, text } of texts) {
    const lower = text.toLowerCase();
    for (const n of needles) {
      const found = n.kind === 'address' ? lower.includes(n.value.toLowerCase()) : text.includes(n.value);
      const key = `${source}\u0000${n.name}`;
      if (found && !seen.has(key)) {
        seen.add(key);
        hits.push({ source, needle: n.name, kind: n.kind });
      }
    }
  }
  return hits;
}

/** The log file of each node directory that has one. */
export function logFiles(dirs: readonly string[]): Text[] {
  return dirs.flatMap((d) => {
    const text = read(d, 'logs/tahoe-ts.log');
    return text === undefined ? [] : [{ source: `${path.basename(d)}/logs/tahoe-ts.log`, text }];
  });
}

export function describeHits(hits: readonly Hit[]): string[] {
  return hits.map((h) => `${h.kind} "${h.needle}" appears in ${h.source}`);
}
