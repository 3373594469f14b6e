/**
 * The shared transport compliance suite (test/net/transport-compliance.ts) against the I2P
 * transport on a real offline i2pd 2.45 (src/testnet/i2pd.ts): one session wave of ≈ 20 s —
 * the main listener, the listener the closed-listener test closes, and the dialler's
 * TRANSIENT client session, created in parallel.
 *
 * i2pd answers STREAM CONNECT with OK before anybody accepted (i2p.md §5.5), so the suite
 * runs with `lateConfirmedConnect`: a dial to a closed listener succeeds, and the stream
 * must then fail with a typed error (the transport's first-byte confirmation: `Timeout`
 * after `firstByteTimeoutMs`, or `ServerUnreachable` when the router ends the stream
 * unanswered). SAM streams have no half-close.
 *
 * Not run here: the two tests that need a dial which never completes (in-flight abort,
 * dial timeout). On the offline router every CONNECT is answered within milliseconds (an
 * unknown destination is CANT_REACH_PEER at once), so there is no stalling target; those
 * tests run against the in-process mini SAM router in transport-compliance.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findI2pdExecutable } from '../../../src/net/i2p/router-process.js';
import { I2pTransport } from '../../../src/net/i2p/transport.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { startI2pRouter } from '../../../src/testnet/i2pd.js';
import { transportComplianceSuite } from '../transport-compliance.js';

const FIRST_BYTE_TIMEOUT_MS = 8_000;

function i2pdMissing(): string | undefined {
  try {
    findI2pdExecutable();
    return undefined;
  } catch (e) {
    const msg = `!!! i2pd not installed (${(e as Error).message}): apt-get install i2pd`;
    if (process.env.CI === 'true') throw new Error(msg, { cause: e });
    process.stderr.write(`\n${msg} — SKIPPING the real-router compliance run\n\n`);
    return msg;
  }
}

if (i2pdMissing() === undefined) {
  transportComplianceSuite(
    'i2p (real i2pd)',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tahoe-ts-i2pd-compliance-'));
      const remove = () => rmSync(dir, { recursive: true, force: true });
      const router = await startI2pRouter({ dir }).catch((e: unknown) => {
        remove();
        throw e;
      });
      const transport = new I2pTransport({
        sam: { endpoint: router.samEndpoint, gate: OPEN_GATE, timeouts: router.timeouts },
        sessionOptions: router.sessionOptions,
        firstByteTimeoutMs: FIRST_BYTE_TIMEOUT_MS,
      });
      // The dialler's client session builds while the suite creates its listeners.
      transport.warmUp().catch(() => undefined);
      return {
        transport,
        listenSpec: { kind: 'i2p', port: 3457 },
        cleanup: async () => {
          await transport.close();
          try {
            await router.stop();
          } finally {
            remove();
          }
        },
      };
    },
    { halfClose: false, slowListen: true, lateConfirmedConnect: { withinMs: FIRST_BYTE_TIMEOUT_MS + 5_000 }, testTimeoutMs: 90_000 },
  );
}
