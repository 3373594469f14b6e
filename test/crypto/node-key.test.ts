/** Ed25519 node keys: RFC 8032 known answers, Tahoe's v0 text forms, Python as an oracle, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  NodeKey, parseNodePrivateKey, parseNodePublicKey, parseServerId, parseSignatureString, permutationSeedOf,
  verifySignature, verifySignatureString,
} from '../../src/crypto/node-key.js';
import { base32Decode } from '../../src/crypto/base32.js';
import { TahoeError } from '../../src/errors.js';
import { PYTHON, pythonOrSkip } from '../config/python-oracle.js';

// RFC 8032 §7.1, TEST 1 and TEST 2.
const RFC = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    priv: 'priv-v0-tvq3dhpp7vngbouejl2jf3bmyrcetrljpmzgsglqhowaghfop5qa',
    pubText: 'pub-v0-25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkena',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    priv: 'priv-v0-jtgqrgzi76lnvhnwyndoyekob5nyumm7gwv2mjg2rt3o2t5yu35q',
    pubText: 'pub-v0-hvabpq7iioevvevxbktu2g36xsojqlgpf3cjndgazvk7ckxumyga',
  },
];

test('RFC 8032 known answers in Tahoe\'s priv-v0/pub-v0/v0 forms', () => {
  for (const v of RFC) {
    const key = NodeKey.fromSeed(Buffer.from(v.seed, 'hex'));
    assert.equal(key.publicKey.toString('hex'), v.pub);
    assert.equal(key.privateKeyString(), v.priv);
    assert.equal(key.publicKeyString(), v.pubText);
    assert.equal(key.serverId(), v.pubText.slice('pub-'.length));
    assert.equal(key.sign(Buffer.from(v.msg, 'hex')).toString('hex'), v.sig);
    assert.equal(parseNodePrivateKey(v.priv + '\n').publicKeyString(), v.pubText);
    assert.deepEqual(parseNodePublicKey(v.pubText), key.publicKey);
    assert.deepEqual(parseServerId(key.serverId()), key.publicKey);
    const sigText = key.signToString(Buffer.from(v.msg, 'hex'));
    assert.equal(parseSignatureString(sigText).toString('hex'), v.sig);
    assert.ok(verifySignatureString(key.serverId(), sigText, Buffer.from(v.msg, 'hex')));
    assert.ok(!verifySignatureString(key.serverId(), sigText, Buffer.from('other')));
  }
});

test('permutation-seed is base32 of the ASCII base32 public key (84 chars), as 1.20 writes it', () => {
  const key = NodeKey.fromSeed(Buffer.from(RFC[0].seed, 'hex'));
  const seed = permutationSeedOf(key.publicKey);
  assert.equal(seed.length, 84);
  assert.equal(base32Decode(seed).toString('ascii'), RFC[0].pubText.slice('pub-v0-'.length));
});

test('a key never prints its secret', () => {
  const key = NodeKey.generate();
  assert.equal(String(key), '[node key]');
  assert.equal(JSON.stringify({ key }), '{"key":"[node key]"}');
  assert.ok(!`${key}`.includes(key.privateKeyString()));
});

test('Python cryptography (what Tahoe 1.20 uses) verifies our signatures and we verify its', (t) => {
  if (!pythonOrSkip(t)) return;
  const cases = Array.from({ length: 20 }, () => ({ key: NodeKey.generate(), msg: randomBytes(Math.floor(Math.random() * 300)) }));
  const input = JSON.stringify(cases.map((c) => ({ seed: c.key.seed().toString('hex'), msg: c.msg.toString('hex'), sig: c.key.sign(c.msg).toString('hex') })));
  const script = `
import json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
out = []
for c in json.load(sys.stdin):
    k = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(c["seed"]))
    pub = k.public_key()
    pub.verify(bytes.fromhex(c["sig"]), bytes.fromhex(c["msg"]))
    out.append({"pub": pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(), "sig": k.sign(bytes.fromhex(c["msg"])).hex()})
json.dump(out, sys.stdout)`;
  const out = JSON.parse(execFileSync(PYTHON, ['-c', script], { input }).toString()) as Array<{ pub: string; sig: string }>;
  cases.forEach((c, i) => {
    assert.equal(out[i].pub, c.key.publicKey.toString('hex'));
    assert.ok(verifySignature(c.key.publicKey, Buffer.from(out[i].sig, 'hex'), c.msg));
    assert.equal(out[i].sig, c.key.sign(c.msg).toString('hex'));
  });
});

test('bad key strings are BadInput with a hint, and never echo a private key', () => {
  const good = RFC[0].priv;
  const bad = [
    '', 'priv-v0-', 'pub-v0-' + good.slice(8), good.slice(0, -1), good + 'a', good.toUpperCase(), good.replace('priv-v0-', 'priv-v1-'),
    'priv-v0-' + '1'.repeat(52),
  ];
  for (const s of bad) {
    assert.throws(() => parseNodePrivateKey(s), (e: unknown) => e instanceof TahoeError && e.kind === 'BadInput' && !e.message.includes(good.slice(8, 20)) && e.hint.includes('node.privkey'));
  }
  assert.throws(() => parseServerId('v0-abc'), (e: unknown) => e instanceof TahoeError && e.kind === 'BadInput');
  assert.ok(!verifySignature(Buffer.alloc(31), Buffer.alloc(64), Buffer.alloc(0)));
  assert.ok(!verifySignatureString('v0-bad', 'v0-bad', Buffer.alloc(0)));
});

test('fuzz: mutated key strings give a key or a TahoeError, never anything else', () => {
  const key = NodeKey.generate();
  const sources = [key.privateKeyString(), key.publicKeyString(), key.serverId(), key.signToString(Buffer.from('x'))];
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567-01=+ \n';
  for (let i = 0; i < 3000; i++) {
    let s = sources[i % sources.length];
    for (let j = 1 + (i % 3); j > 0; j--) {
      const at = Math.floor(Math.random() * (s.length + 1));
      s = s.slice(0, at) + alphabet[Math.floor(Math.random() * alphabet.length)] + s.slice(at + (i % 2));
    }
    for (const parse of [parseNodePrivateKey, parseNodePublicKey, parseServerId, parseSignatureString]) {
      try {
        parse(s);
      } catch (e) {
        assert.ok(e instanceof TahoeError && e.kind === 'BadInput', String(e));
      }
    }
  }
});
