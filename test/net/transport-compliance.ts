/**
 * The transport compliance suite: what every `Transport` (src/net/transport.ts) must do,
 * as node:test tests. tcp runs it in test/net/tcp.test.ts; the tor and i2p transports run
 * it against their own setups:
 *
 *   transportComplianceSuite('tor', async () => ({ transport, listenSpec, cleanup, stallingTarget }), { halfClose: false });
 *
 * Everything is generic: targets come from `listener.hints`, the server side is an
 * `onConnection` handler speaking a tiny test protocol (first byte: `E` echo, `S` send N
 * bytes, `H` read to end then answer the SHA-256 of what arrived), and nothing assumes TCP.
 *
 * Late-confirmed transports (`lateConfirmedConnect`): some transports cannot know at dial
 * time whether anybody accepted the stream — a SAM 3.1 router (i2pd) answers CONNECT with
 * OK before the peer has accepted, so a dial to a closed listener succeeds. For them the
 * suite requires instead that such a stream ends in a *typed* error (a TahoeError with a
 * hint) within a bounded time, and that no data ever arrives on it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { isTahoeError } from '../../src/errors.js';
import type { DialOptions, DialTarget, Listener, ListenSpec, RemoteInfo, Transport } from '../../src/net/transport.js';

export interface ComplianceSetup {
  /** A fresh transport; the suite closes its listeners, `cleanup` closes the rest. */
  transport: Transport;
  /** What to listen on (each call to `transport.listen(listenSpec)` must work after the previous listener closed). */
  listenSpec: ListenSpec;
  cleanup: () => Promise<void>;
  /**
   * A target whose dial never completes (nothing answers: a full accept queue, a SOCKS
   * server that stays silent). Needed for the in-flight abort and the timeout tests; they
   * are skipped, loudly, without it.
   */
  stallingTarget?: DialTarget;
  /** Options merged into every dial (e.g. an isolation key). */
  dialOptions?: DialOptions;
}

export interface ComplianceOptions {
  /** The transport keeps the other direction open after one side ends (FIN). Tor and SAM streams do not. Default true. */
  halfClose?: boolean;
  /** Bytes for the large echo and server-send tests. Default 1 MiB. */
  largePayloadBytes?: number;
  /** Streams opened at once in the concurrency test. Default 8. */
  concurrentStreams?: number;
  /** Ceiling for each test. Default 60 s. */
  testTimeoutMs?: number;
  /**
   * The dial may succeed before the peer accepted (see the top comment): a dial to a closed
   * listener must then fail on the stream with a typed error within `withinMs`.
   */
  lateConfirmedConnect?: { withinMs: number };
  /**
   * Listening is slow (an I2P session takes 20 s to build on i2pd 2.45): open the second
   * listener that the closed-listener test needs in `before`, in parallel with the main one.
   */
  slowListen?: boolean;
}

// ---------------------------------------------------------------------------------------
// Stream helpers

/** Read exactly `n` bytes (or fail on end, error or timeout). */
export function readExactly(stream: Duplex, n: number, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      if (err) return reject(err);
      const all = Buffer.concat(chunks);
      if (all.length > n) stream.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      have += d.length;
      if (have >= n) done();
    };
    const onEnd = () => done(new Error(`stream ended after ${have} of ${n} bytes`));
    const onError = (e: Error) => done(e);
    const timer = setTimeout(() => done(new Error(`timed out after ${have} of ${n} bytes`)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

/** Read until the peer ends its side. */
export function readToEnd(stream: Duplex, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('timed out waiting for end')), timeoutMs);
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    stream.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.resume();
  });
}

/** Write `data` in chunks, honouring back-pressure. */
async function writeAll(stream: Duplex, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!stream.write(data.subarray(off, off + chunk))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          stream.off('error', onError);
          resolve();
        };
        const onError = (e: Error) => {
          stream.off('drain', onDrain);
          reject(e);
        };
        stream.once('drain', onDrain);
        stream.once('error', onError);
      });
    }
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

/** The server side of the test protocol. */
function serveTestProtocol(stream: Duplex): void {
  stream.on('error', () => undefined); // a client that disconnects abruptly is part of the tests
  void (async () => {
    const mode = (await readExactly(stream, 1)).toString('latin1');
    if (mode === 'E') {
      stream.pipe(stream);
      stream.resume();
    } else if (mode === 'S') {
      const n = (await readExactly(stream, 4)).readUInt32BE(0);
      const data = randomBytes(n);
      stream.write(sha256(data));
      await writeAll(stream, data);
    } else if (mode === 'H') {
      const received = await readToEnd(stream);
      stream.end(sha256(received).toString('hex'));
    } else {
      stream.destroy();
    }
  })().catch(() => stream.destroy());
}

/**
 * Write a request on a stream that should never be answered and wait for how it ends: the
 * error it is destroyed with, or an Error saying what happened instead (data arrived, it
 * closed without an error, nothing happened within `withinMs`).
 */
function streamFailure(stream: Duplex, withinMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`the stream neither failed nor closed within ${withinMs} ms`)), withinMs);
    const finish = (outcome: unknown) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    stream.once('error', (e) => finish(e));
    // 'error' comes before 'close' when a stream is destroyed with an error.
    stream.once('close', () => setImmediate(() => finish(new Error('the stream closed without an error'))));
    stream.on('data', () => finish(new Error('a closed listener sent data')));
    stream.write('E');
    stream.write(randomBytes(16));
  });
}

function countSocketHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'PipeWrap' || r === 'TCPWRAP').length;
}

// ---------------------------------------------------------------------------------------

export function transportComplianceSuite(name: string, setup: () => Promise<ComplianceSetup>, options: ComplianceOptions = {}): void {
  const halfClose = options.halfClose ?? true;
  const large = options.largePayloadBytes ?? 1024 * 1024;
  const concurrent = options.concurrentStreams ?? 8;
  const timeout = options.testTimeoutMs ?? 60_000;

  describe(`transport compliance: ${name}`, { timeout: timeout * 12 }, () => {
    let env: ComplianceSetup;
    let listener: Listener | undefined;
    const accepted: RemoteInfo[] = [];
    const dial = (target: DialTarget, extra: DialOptions = {}) => env.transport.dial(target, { ...env.dialOptions, ...extra });
    const target = (): DialTarget => {
      assert.ok(listener, 'the main listener is open');
      const t = listener.hints.find((h) => env.transport.canDial(h));
      assert.ok(t, `no hint of ${listener.describe()} can be dialled by the ${name} transport`);
      return t;
    };
    const open: Duplex[] = [];
    const dialTracked = async (t: DialTarget) => {
      const s = await dial(t);
      open.push(s);
      return s;
    };

    // The listener the closed-listener test closes and then dials (made early with slowListen).
    let spareListener: Promise<Listener> | undefined;
    const listenSpare = () => env.transport.listen(env.listenSpec, (stream) => stream.destroy());

    before(async () => {
      env = await setup();
      if (options.slowListen === true) {
        spareListener = listenSpare();
        spareListener.catch(() => undefined);
      }
      listener = await env.transport.listen(env.listenSpec, (stream, remote) => {
        accepted.push(remote);
        serveTestProtocol(stream);
      });
    });
    after(async () => {
      for (const s of open) s.destroy();
      await listener?.close();
      await (await spareListener?.catch(() => undefined))?.close();
      await env?.cleanup();
    });

    test('describe() of the transport and the listener are sane', { timeout }, () => {
      const status = env.transport.describe();
      assert.equal(status.name, env.transport.name);
      assert.equal(typeof status.ready, 'boolean');
      assert.ok(status.ready, `the ${name} transport reports ready`);
      assert.ok(status.summary.length > 0);
      assert.equal(typeof env.transport.hidesIp, 'boolean');
      assert.ok(listener && listener.describe().length > 0);
      assert.ok(listener.hints.length > 0, 'a listener has at least one hint');
      for (const h of listener.hints) assert.ok(['tcp', 'tor', 'i2p'].includes(h.kind));
    });

    test(`listen + dial + echo ${large} bytes`, { timeout }, async () => {
      const progress: string[] = [];
      const stream = await dialTracked(target());
      await dial(target(), { onProgress: (p) => progress.push(`${p.transport}:${p.phase}`) }).then((s) => s.destroy());
      assert.ok(progress.length > 0 && progress.every((p) => p.startsWith(`${name}:`) || p.startsWith(`${env.transport.name}:`)), `progress reported: ${progress.join(', ')}`);
      const data = randomBytes(large);
      const reading = readExactly(stream, large, timeout);
      stream.write('E');
      await writeAll(stream, data);
      const echoed = await reading;
      assert.ok(sha256(echoed).equals(sha256(data)), 'echo is byte-identical');
      stream.destroy();
      assert.ok(accepted.length >= 2, 'the listener saw the connections');
      assert.ok(accepted.every((r) => r.transport === env.transport.name && typeof r.peer === 'string'));
    });

    test(`server sends ${large} bytes to the client`, { timeout }, async () => {
      const stream = await dialTracked(target());
      const header = Buffer.alloc(5);
      header.write('S', 0, 'latin1');
      header.writeUInt32BE(large, 1);
      stream.write(header);
      const digest = await readExactly(stream, 32, timeout);
      const body = await readExactly(stream, large, timeout);
      assert.ok(sha256(body).equals(digest), 'server-to-client data arrives intact');
      stream.destroy();
    });

    test(`${concurrent} concurrent streams do not mix their data`, { timeout }, async () => {
      const t = target();
      const payloads = Array.from({ length: concurrent }, () => randomBytes(64 * 1024));
      await Promise.all(
        payloads.map(async (data) => {
          const s = await dialTracked(t);
          const reading = readExactly(s, data.length, timeout);
          s.write('E');
          await writeAll(s, data);
          assert.ok((await reading).equals(data));
          s.destroy();
        }),
      );
    });

    test('half-close: the client ends its side and still reads the answer', { timeout, skip: halfClose ? false : `${name} streams do not support half-close` }, async () => {
      const stream = await dialTracked(target());
      const data = randomBytes(256 * 1024);
      const answer = readToEnd(stream, timeout);
      stream.write('H');
      await writeAll(stream, data);
      stream.end();
      assert.equal((await answer).toString(), sha256(data).toString('hex'));
    });

    test('dial with an already-aborted signal rejects with Aborted and opens nothing', { timeout }, async () => {
      const before = countSocketHandles();
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(dial(target(), { signal: controller.signal }), (e: unknown) => isTahoeError(e, 'Aborted'));
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(countSocketHandles() <= before, 'no socket left open');
    });

    test('dial aborted while in flight rejects with Aborted and leaks no socket', { timeout }, async (t) => {
      if (!env.stallingTarget) {
        process.stderr.write(`\n!!! ${name}: no stallingTarget in the setup — SKIPPING the in-flight abort test\n`);
        t.skip('setup provides no stallingTarget');
        return;
      }
      const before = countSocketHandles();
      const controller = new AbortController();
      const started = Date.now();
      const attempt = dial(env.stallingTarget, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(attempt, (e: unknown) => isTahoeError(e, 'Aborted'));
      assert.ok(Date.now() - started < 5_000, 'abort takes effect promptly');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(countSocketHandles() <= before, `no socket left open (${countSocketHandles()} > ${before})`);
    });

    test('dial timeout rejects with Timeout', { timeout }, async (t) => {
      if (!env.stallingTarget) {
        process.stderr.write(`\n!!! ${name}: no stallingTarget in the setup — SKIPPING the timeout test\n`);
        t.skip('setup provides no stallingTarget');
        return;
      }
      const before = countSocketHandles();
      const started = Date.now();
      await assert.rejects(dial(env.stallingTarget, { timeoutMs: 300 }), (e: unknown) => isTahoeError(e, 'Timeout'));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 5_000, `timed out after ${elapsed} ms`);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(countSocketHandles() <= before, 'no socket left open');
    });

    test('closing the listener stops it accepting', { timeout }, async () => {
      assert.ok(listener);
      const t = target();
      const seen = accepted.length;
      await listener.close();
      assert.match(listener.describe(), /./);
      listener = undefined;
      // A dial may fail at once or be accepted by nobody; either way the handler must not run.
      const attempt = dial(t, { timeoutMs: 10_000 })
        .then((s) => {
          s.write('E');
          return readExactly(s, 1, 3_000).finally(() => s.destroy());
        })
        .then(
          () => assert.fail('a closed listener answered'),
          (e: unknown) => e,
        );
      const error = await attempt;
      assert.ok(error instanceof Error);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(accepted.length, seen, 'no connection reached the closed listener');
    });

    const late = options.lateConfirmedConnect;
    test(`dialling a closed listener fails with a typed error${late ? ` (on the dial or on the stream within ${late.withinMs} ms)` : ''}`, { timeout }, async () => {
      const l = await (spareListener ?? listenSpare());
      const t = l.hints.find((h) => env.transport.canDial(h));
      assert.ok(t);
      await l.close();
      const typed = (e: unknown) => isTahoeError(e) && e.kind !== 'Internal' && e.hint.length > 0;
      if (late === undefined) {
        await assert.rejects(
          dial(t, { timeoutMs: 10_000 }).then((s) => {
            s.destroy();
            throw new Error('connected to a closed listener');
          }),
          typed,
        );
        return;
      }
      const started = Date.now();
      let stream: Duplex | undefined;
      const outcome = await dial(t, { timeoutMs: 10_000 }).then(
        (s) => {
          stream = s;
          return streamFailure(s, late.withinMs);
        },
        (e: unknown) => e,
      );
      stream?.destroy();
      assert.ok(typed(outcome), `a typed error with a hint, not ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : String(outcome)}`);
      assert.ok(Date.now() - started < late.withinMs + 10_000, `within the bound (${Date.now() - started} ms)`);
    });
  });
}
