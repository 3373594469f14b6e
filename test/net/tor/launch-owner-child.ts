/**
 * Child process for launch-owner.test.ts: launch a tor that cannot leave the host
 * (DisableNetwork 1), and as soon as it reports bootstrap progress — by then launchTor has
 * taken ownership — print one JSON line with tor's PID (from tor's own PidFile), then wait
 * to be killed. The launch never finishes (no network), which is fine: what is tested is
 * the ownership, which is in place before the bootstrap wait.
 */
import { readFileSync } from 'node:fs';
import { launchTor } from '../../../src/net/tor/launch.js';
import { OPEN_GATE } from '../../../src/net/socket.js';

const [dataDir, controlSocketPath, pidFile, logFile] = process.argv.slice(2);
let reported = false;
launchTor({
  gate: OPEN_GATE,
  dataDir,
  controlSocketPath,
  extraOptions: [
    ['DisableNetwork', '1'],
    ['GeoIPFile', ''],
    ['GeoIPv6File', ''],
    ['PidFile', pidFile],
    // a second log that outlives our stdout pipe: the test reads why tor exited
    ['Log', `notice file ${logFile}`],
  ],
  bootstrapTimeoutMs: 600_000,
  onProgress: (status) => {
    if (reported) return;
    reported = true;
    const torPid = Number(readFileSync(pidFile, 'utf8').trim());
    process.stdout.write(JSON.stringify({ torPid, progress: status.progress }) + '\n');
  },
}).then(
  () => process.stdout.write('{"error":"launched although the network is disabled"}\n'),
  (e: unknown) => process.stdout.write(JSON.stringify({ error: String(e) }) + '\n'),
);
setInterval(() => undefined, 60_000);
