/**
 * Introducer NURLs: how a tahoe-ts introducer is named and reached.
 *
 * An introducer has one TLS identity (SPKI hash) and one swissnum, and one NURL per
 * location hint (NURLs carry exactly one netloc, shared/specs/storage-protocol.md §1):
 * `pb://HASH@HOST:PORT/SWISSNUM#v=1` for `tcp:` hints, `pb+tor://HASH@X.onion:PORT/…#v=1`
 * for `tor:` hints, `pb+i2p://HASH@Y.b32.i2p[:PORT]/…#v=1` for `i2p:` hints. They are
 * written to `private/introducer.furl`, one per line. A client's `introducers.yaml` entry
 * (`furl:`) holds one of them, or several separated by commas (the client tries them in
 * the router's order, like a fURL's hints).
 */
import { TahoeError } from '../errors.js';
import { formatNurl, parseNurl, type ConnectionHint, type Nurl } from '../net/hints.js';

/** One NURL per hint that can carry one (`unknown` hints get none). */
export function introducerNurls(spkiHash: string, swissnum: string, hints: readonly ConnectionHint[]): Nurl[] {
  const out: Nurl[] = [];
  for (const h of hints) {
    if (h.type === 'tcp') out.push({ scheme: 'pb', spkiHash, host: h.host, port: h.port, swissnum });
    else if (h.type === 'tor') out.push({ scheme: 'pb+tor', spkiHash, host: h.host, port: h.port, swissnum });
    else if (h.type === 'i2p') out.push(h.port === undefined ? { scheme: 'pb+i2p', spkiHash, host: h.address, swissnum } : { scheme: 'pb+i2p', spkiHash, host: h.address, port: h.port, swissnum });
  }
  return out;
}

/** The text of `private/introducer.furl`: one NURL per line. */
export function formatIntroducerFurlFile(nurls: readonly Nurl[]): string {
  return nurls.map((n) => formatNurl(n) + '\n').join('');
}

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('EndpointInvalid', message, { hint });
}

/**
 * Parse what a client was given for an introducer: one NURL, or several separated by
 * commas, spaces or line breaks (the content of `private/introducer.furl` as is). All must
 * name the same introducer (same SPKI hash and swissnum). A Foolscap fURL is refused with
 * a hint: tahoe-ts introducers speak HTTPS only.
 */
export function parseIntroducerLocation(text: string): Nurl[] {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0) throw bad('the introducer URL is empty', 'copy the content of the introducer\'s private/introducer.furl');
  if (parts.length > 16) throw bad(`the introducer URL lists ${parts.length} locations`, 'give at most 16 NURLs for one introducer');
  const nurls = parts.map((p) => {
    if (!p.includes('#')) {
      throw bad('this introducer URL has no "#v=1": it is a Foolscap fURL, and tahoe-ts speaks only its HTTPS introducer protocol', 'run a tahoe-ts introducer and use the NURL from its private/introducer.furl (Foolscap introducers of Tahoe-LAFS are not supported)');
    }
    return parseNurl(p);
  });
  const first = nurls[0];
  for (const n of nurls.slice(1)) {
    if (n.spkiHash !== first.spkiHash || n.swissnum !== first.swissnum) {
      throw bad('the NURLs given for one introducer name different introducers', 'give each introducer its own petname in private/introducers.yaml');
    }
  }
  return nurls;
}
