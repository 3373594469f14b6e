/**
 * What this server calls itself: `application-version` in the version response and
 * `my-version` in announcements (1.20 sends "tahoe-lafs/1.20.0"; clients only display it).
 */
import { readFileSync } from 'node:fs';

function readPackageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const TAHOE_TS_VERSION = readPackageVersion();
export const APPLICATION_VERSION = `tahoe-ts/${TAHOE_TS_VERSION}`;
