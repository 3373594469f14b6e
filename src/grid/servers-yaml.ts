/**
 * `private/servers.yaml`: storage servers configured statically, in Tahoe's format
 * (spec: shared/specs/storage-protocol.md §7 "Static configuration"; tahoe-lafs
 * `docs/configuration.rst` "Static Server Definitions"):
 *
 *   storage:
 *     v0-<52 base32>:                # server id
 *       ann:                         # the announcement dict, as the server publishes it
 *         nickname: s1
 *         anonymous-storage-FURL: pb://<tubid>@tcp:HOST:PORT/<swissnum>
 *         anonymous-storage-NURLs: ["pb://<spki>@HOST:PORT/<swissnum>#v=1"]
 *         permutation-seed-base32: <…>
 *       connections: {tcp: tor}      # optional per-server override of [connections] tcp
 *
 * PyYAML writes (and Tahoe reads) YAML 1.1, so the file is parsed as YAML 1.1: `yes`,
 * `no`, `on`, `off` are booleans and `012` is octal there. Where a string is expected (a
 * nickname, an id) the scalar's source text is used, so `nickname: yes` is "yes" and not
 * `true`. We write every string double-quoted, which no YAML version can misread.
 *
 * Parsing only: the node runtime reads the file (config/ owns the node directory).
 */
import { Document, isMap, isScalar, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { TahoeError, isTahoeError } from '../errors.js';
import type { TcpHandler } from '../net/policy.js';
import type { StaticServer } from './client.js';
import { parseAnnouncement } from './announcement.js';

export const SERVERS_YAML = 'private/servers.yaml';

const EXAMPLE = 'storage:\n  v0-<server id>:\n    ann:\n      nickname: "…"\n      anonymous-storage-FURL: "pb://…"\n      anonymous-storage-NURLs: ["pb://…#v=1"]';

function invalid(file: string, problem: string, hint?: string, cause?: unknown): TahoeError {
  return new TahoeError('ConfigInvalid', `${file}: ${problem}`, {
    hint: hint ?? `the file must look like:\n${EXAMPLE}\n(\`tahoe-ts admin storage-announcement\` on the server prints its entry)`,
    cause,
    details: { file },
  });
}

/** A scalar as text, using its source for non-strings (YAML 1.1 `yes`, `012`). */
function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  if (typeof node.value === 'string') return node.value;
  if (node.value === null || node.value === undefined) return undefined;
  return typeof node.source === 'string' ? node.source : String(node.value as string | number | boolean | bigint);
}

/** Plain JS from a YAML node; string-typed announcement keys keep their source text. */
const STRING_KEYS = new Set(['nickname', 'anonymous-storage-FURL', 'permutation-seed-base32', 'my-version', 'oldest-supported', 'service-name', 'nonce']);

function announcementFrom(node: YAMLMap, doc: Document): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const key = scalarText(pair.key);
    if (key === undefined) continue;
    const value = pair.value as YamlNode | null;
    if (STRING_KEYS.has(key) && isScalar(value)) out[key] = scalarText(value) ?? '';
    else out[key] = value === null ? null : (value.toJS(doc) as unknown);
  }
  return out;
}

function tcpOverride(file: string, serverId: string, node: unknown, doc: Document): TcpHandler | undefined {
  if (node === null || node === undefined) return undefined;
  if (!isMap(node)) throw invalid(file, `server ${serverId}: "connections" is not a mapping`, 'write connections: {tcp: tor} (or tcp / disabled), or leave it out');
  const value = (node.toJS(doc) as Record<string, unknown>).tcp;
  if (value === undefined || value === null) return undefined;
  const text = String(value as string).trim().toLowerCase();
  if (text === 'tcp' || text === 'tor' || text === 'disabled') return text;
  throw invalid(file, `server ${serverId}: connections.tcp = "${String(value as string)}" is not tcp, tor or disabled`, 'write connections: {tcp: tor} to reach this server through Tor');
}

export interface ServersYaml {
  servers: StaticServer[];
}

/** Parse the text of `private/servers.yaml`. Every problem is a `ConfigInvalid` naming the server and the fix. */
export function parseServersYaml(text: string, file = SERVERS_YAML): ServersYaml {
  let doc: Document;
  try {
    doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  } catch (cause) {
    throw invalid(file, `is not valid YAML (${(cause as Error).message.split('\n')[0]})`, undefined, cause);
  }
  if (doc.errors.length > 0) throw invalid(file, `is not valid YAML (${doc.errors[0].message.split('\n')[0]})`, undefined, doc.errors[0]);
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) return { servers: [] };
  if (!isMap(root)) throw invalid(file, 'does not hold a mapping');
  const storage = root.get('storage', true) as unknown;
  if (storage === undefined || storage === null || (isScalar(storage) && storage.value === null)) return { servers: [] };
  if (!isMap(storage)) throw invalid(file, '"storage" is not a mapping of server ids');
  const servers: StaticServer[] = [];
  for (const pair of storage.items) {
    const serverId = scalarText(pair.key);
    if (serverId === undefined || serverId === '') throw invalid(file, 'a server entry has an empty id');
    const entry = pair.value as unknown;
    if (!isMap(entry)) throw invalid(file, `server ${serverId} is not a mapping (it needs an "ann:" mapping)`);
    const ann = entry.get('ann', true) as unknown;
    if (!isMap(ann)) throw invalid(file, `server ${serverId} has no "ann:" mapping`);
    const announcement = announcementFrom(ann, doc);
    try {
      parseAnnouncement(serverId, announcement);
    } catch (e) {
      if (!isTahoeError(e)) throw e;
      throw invalid(file, `server ${serverId}: ${e.message}`, e.hint, e);
    }
    const tcpHandler = tcpOverride(file, serverId, entry.get('connections', true), doc);
    servers.push({ serverId, announcement, ...(tcpHandler === undefined ? {} : { tcpHandler }) });
  }
  return { servers };
}

/** The YAML text for these servers, every string double-quoted (safe for PyYAML and for us). */
export function formatServersYaml(servers: readonly StaticServer[]): string {
  const storage: Record<string, unknown> = {};
  for (const s of servers) {
    storage[s.serverId] = { ann: s.announcement, ...(s.tcpHandler === undefined ? {} : { connections: { tcp: s.tcpHandler } }) };
  }
  const doc = new Document({ storage }, { version: '1.1' });
  return doc.toString({ defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
}
