/**
 * The files a running node keeps in its node directory, read and written through the
 * config room's helpers (atomic writes, 0600 under `private/`).
 *
 * Spec: shared/specs/configuration.md §6 (layout): `node.url` (the web gateway's URL,
 * written at start), `private/api_auth_token` (regenerated every start), `announcement-seqnum`
 * (last seqnum published), `my_nodeid`, `client.port` (the remembered kernel-chosen tub
 * port when `tub.port` is unset), `private/introducer.furl` (an introducer's NURLs, one per
 * line; the swissnum in it is stable across restarts; introducer/url.ts has the format),
 * `private/introducer_<petname>_cache.yaml`
 * (cache.ts), `private/servers.yaml` (grid/servers-yaml.ts).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { TahoeError, isTahoeError } from '../errors.js';
import { base32Encode } from '../crypto/base32.js';
import { readNodeFile, writeFileAtomic, writePrivateFile } from '../config/keys.js';
import { formatIntroducerFile, introducerFileSwissnum } from '../introducer/url.js';
import type { SeqnumStore } from '../introducer/announcement.js';
import { cacheFileName, formatAnnouncementCache, parseAnnouncementCache, type KnownAnnouncement } from '../introducer/cache.js';
import type { AnnouncementCacheStore } from '../introducer/client.js';
import type { Logger } from '../log.js';

export const NODE_FILES = {
  nodeUrl: 'node.url',
  apiAuthToken: 'private/api_auth_token',
  announcementSeqnum: 'announcement-seqnum',
  myNodeid: 'my_nodeid',
  clientPort: 'client.port',
  introducerFurl: 'private/introducer.furl',
  /** Written by older tahoe-ts introducers; now only detected, so the node can say it is stale. */
  staleIntroducerNurls: 'private/introducer.nurls',
  serversYaml: 'private/servers.yaml',
  logDir: 'logs',
} as const;

export async function writeNodeUrl(directory: string, url: string): Promise<void> {
  await writeFileAtomic(path.join(directory, NODE_FILES.nodeUrl), url + '\n', 0o644);
}

/** A fresh web-API token (Tahoe regenerates it at every start), written 0600. */
export async function writeApiAuthToken(directory: string): Promise<string> {
  const token = base32Encode(randomBytes(32));
  await writePrivateFile(directory, NODE_FILES.apiAuthToken, token + '\n');
  return token;
}

export async function writeMyNodeid(directory: string, tubId: string): Promise<void> {
  await writeFileAtomic(path.join(directory, NODE_FILES.myNodeid), tubId + '\n', 0o644);
}

/** `announcement-seqnum`: a decimal integer; a damaged file is an error naming the fix. */
export function seqnumStore(directory: string): SeqnumStore {
  const file = path.join(directory, NODE_FILES.announcementSeqnum);
  return {
    load: async () => {
      const text = await readNodeFile(directory, NODE_FILES.announcementSeqnum);
      if (text === undefined || text.trim() === '') return undefined;
      const t = text.trim();
      if (!/^[0-9]{1,15}$/.test(t)) {
        throw new TahoeError('NodeDirInvalid', `${file} does not hold a number`, { hint: `delete ${file}: the next publish starts a new sequence (introducers accept it once the old announcement expired)` });
      }
      return Number(t);
    },
    save: (seqnum) => writeFileAtomic(file, `${seqnum}\n`, 0o644),
  };
}

/** The remembered tub port (`client.port`: `tcp:PORT` or a bare port), when tub.port is unset. */
export async function readClientPort(directory: string): Promise<number | undefined> {
  const text = await readNodeFile(directory, NODE_FILES.clientPort);
  if (text === undefined) return undefined;
  const m = /^(?:tcp:)?([1-9][0-9]{0,4})(?::.*)?$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[1]);
  if (!(port >= 1 && port <= 65535)) {
    throw new TahoeError('NodeDirInvalid', `${path.join(directory, NODE_FILES.clientPort)} does not hold a port`, { hint: 'delete it (a new port is chosen), or set [node] tub.port' });
  }
  return port;
}

export async function writeClientPort(directory: string, port: number): Promise<void> {
  await writeFileAtomic(path.join(directory, NODE_FILES.clientPort), `tcp:${port}\n`, 0o644);
}

/**
 * The swissnum of an existing `private/introducer.furl` (undefined when there is none):
 * read from its NURLs, or from the fURL-form line an older introducer wrote.
 */
export async function readIntroducerSwissnum(directory: string): Promise<string | undefined> {
  const text = await readNodeFile(directory, NODE_FILES.introducerFurl);
  if (text === undefined) return undefined;
  try {
    return introducerFileSwissnum(text);
  } catch (cause) {
    throw new TahoeError('NodeDirInvalid', `${path.join(directory, NODE_FILES.introducerFurl)} is damaged`, {
      cause,
      hint: 'restore it from backup; deleting it creates a new swissnum, and every node then needs the new NURLs',
    });
  }
}

/** `private/introducer.furl`: the lines of introducerFileContent, 0600. */
export async function writeIntroducerFile(directory: string, lines: readonly string[]): Promise<void> {
  await writePrivateFile(directory, NODE_FILES.introducerFurl, formatIntroducerFile(lines));
}

/** Whether an older introducer's `private/introducer.nurls` is still there (it is no longer kept up to date). */
export async function hasStaleIntroducerNurls(directory: string): Promise<boolean> {
  return (await readNodeFile(directory, NODE_FILES.staleIntroducerNurls)) !== undefined;
}

/** A petname's announcement cache as the introducer client uses it. */
export function announcementCacheStore(directory: string, petname: string, logger: Logger): AnnouncementCacheStore {
  const relative = cacheFileName(petname);
  const file = path.join(directory, relative);
  return {
    load: async (): Promise<KnownAnnouncement[]> => {
      const text = await readNodeFile(directory, relative);
      if (text === undefined) return [];
      try {
        const { entries, dropped } = parseAnnouncementCache(text, file);
        for (const why of dropped) logger.warn(`${relative}: dropped ${why}`);
        return entries;
      } catch (e) {
        if (!isTahoeError(e)) throw e;
        logger.warn(`${e.message}; ignoring it (hint: ${e.hint})`);
        return [];
      }
    },
    save: (entries) => writePrivateFile(directory, relative, formatAnnouncementCache(entries)),
  };
}

export async function readServersYamlText(directory: string): Promise<string | undefined> {
  return readNodeFile(directory, NODE_FILES.serversYaml);
}
