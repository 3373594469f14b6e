/**
 * The shared transport compliance suite (test/net/transport-compliance.ts) against the I2P
 * transport over the in-process mini SAM router (deterministic, with a stalling target for
 * the abort/timeout tests). SAM streams have no half-close.
 *
 * The real-router run lives in transport.test.ts (echo, concurrency, restarts); the suite's
 * "dialling a closed listener fails" cannot hold on a real SAM 3.1 router, which answers
 * CONNECT with OK before the peer accepted (see docs/i2p.md, "Confirming a dial").
 */
import { I2pTransport } from '../../../src/net/i2p/transport.js';
import { OPEN_GATE } from '../../../src/net/socket.js';
import { OFFLINE_SAM_TIMEOUTS } from '../../../src/net/i2p/sam.js';
import { transportComplianceSuite } from '../transport-compliance.js';
import { startMiniSam } from './mini-sam.js';

transportComplianceSuite(
  'i2p',
  async () => {
    const cleanups: Array<() => Promise<void>> = [];
    const sam = await startMiniSam({ after: (fn) => cleanups.push(fn) });
    const transport = new I2pTransport({
      sam: { endpoint: sam.endpoint, gate: OPEN_GATE, timeouts: OFFLINE_SAM_TIMEOUTS },
      sessionOptions: { 'inbound.length': '0', 'outbound.length': '0' },
      firstByteTimeoutMs: 10_000,
    });
    return {
      transport,
      listenSpec: { kind: 'i2p', port: 3457 },
      stallingTarget: { kind: 'i2p', address: sam.stallAddress },
      cleanup: async () => {
        await transport.close();
        for (const c of cleanups) await c();
      },
    };
  },
  { halfClose: false },
);
