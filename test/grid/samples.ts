/** Well-formed announcements for parser tests (random identities, no servers behind them). */
import { randomBytes } from 'node:crypto';
import { base32Encode } from '../../src/crypto/base32.js';
import { NodeKey, permutationSeedOf } from '../../src/crypto/node-key.js';
import { onionAddressFromPublicKey } from '../../src/net/hints.js';

export function sampleAnnouncement(overrides: Record<string, unknown> = {}): { serverId: string; ann: Record<string, unknown>; key: NodeKey } {
  const key = NodeKey.generate();
  const tubId = base32Encode(randomBytes(20));
  const swissnum = base32Encode(randomBytes(20));
  const spki = randomBytes(32).toString('base64url');
  const onion = onionAddressFromPublicKey(NodeKey.generate().publicKey);
  const ann: Record<string, unknown> = {
    version: 0,
    nickname: 'alpha',
    'app-versions': [],
    'my-version': 'tahoe-lafs/1.20.0',
    'oldest-supported': '1.0.0',
    'service-name': 'storage',
    seqnum: 3,
    nonce: base32Encode(randomBytes(10)),
    'anonymous-storage-FURL': `pb://${tubId}@tcp:127.0.0.1:4711,tor:${onion}:4711/${swissnum}`,
    'anonymous-storage-NURLs': [`pb://${spki}@127.0.0.1:4711/${swissnum}#v=1`, `pb+tor://${spki}@${onion}:4711/${swissnum}#v=1`],
    'permutation-seed-base32': permutationSeedOf(key.publicKey),
    ...overrides,
  };
  return { serverId: key.serverId(), ann, key };
}

