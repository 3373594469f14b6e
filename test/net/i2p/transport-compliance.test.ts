/**
 * The shared transport compliance suite (test/net/transport-compliance.ts) against the I2P
 * transport over the in-process mini SAM router (deterministic, with a stalling target for
 * the abort/timeout tests). SAM streams have no half-close.
 *
 * This mini router confirms a CONNECT only when the peer accepted it, so the suite runs in
 * its strict form here, with a stalling target for the abort and timeout tests. The run on
 * a real i2pd (which answers OK before anybody accepted) is transport-compliance-real.test.ts.
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
