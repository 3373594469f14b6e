/**
 * Child process for launch-exit.test.ts: launch a tor that cannot bootstrap (its only way
 * out is a bridge on a closed loopback port), let the launch fail, report, then return and
 * let Node exit by itself — which it does only once nothing (a timer, a socket) holds it.
 */
import { launchTor } from '../../../src/net/tor/launch.js';
import { OPEN_GATE } from '../../../src/net/socket.js';

const dataDir = process.argv[2];
try {
  await launchTor({
    gate: OPEN_GATE,
    dataDir,
    extraOptions: [['UseBridges', '1'], ['Bridge', '127.0.0.1:9'], ['GeoIPFile', ''], ['GeoIPv6File', '']],
    bootstrapTimeoutMs: 2000,
  });
  process.stdout.write('launched\n');
} catch (e) {
  process.stdout.write(`failed ${(e as { kind?: string }).kind ?? String(e)}\n`);
}
