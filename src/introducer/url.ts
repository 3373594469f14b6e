/**
 * How a tahoe-ts introducer is named and reached.
 *
 * An introducer has one TLS identity (its node certificate), one swissnum (the secret
 * every request carries) and the location hints of its `tub.location`. Two spellings name
 * it, and clients accept both:
 *
 * - the **fURL form**, `pb://TUBID@HINT,HINT/SWISSNUM` — Tahoe's fURL syntax, TubID =
 *   base32(SHA-1(certificate DER)) as Foolscap pins it, every hint in one line. This is
 *   what `private/introducer.furl` holds (one line, the file and shape Tahoe users know),
 *   and what fits everywhere a fURL is accepted today (`private/introducers.yaml`,
 *   `create-node --introducer`, `[client] introducer.furl`, whose 1.20 rules refuse `#`).
 * - the **NURL form**, one NURL per hint (storage-protocol.md §1: exactly one netloc per
 *   NURL; a legacy `HOST:PORT` hint gets none, as for a 1.20 storage server):
 *   `pb://SPKIHASH@HOST:PORT/SWISSNUM#v=1`, `pb+tor://…onion:PORT/…#v=1`,
 *   `pb+i2p://…b32.i2p[:PORT]/…#v=1`; the SHA-256 SPKI pin of HTTPS storage. Written to
 *   `private/introducer.nurls`, one per line; a client may be given several, separated by
 *   spaces, commas or line breaks.
 *
 * Either way the client checks the pin on the TLS connection before it sends the swissnum
 * (https-request.ts). Real Tahoe-LAFS nodes cannot use a tahoe-ts introducer: it speaks
 * HTTPS, not Foolscap.
 */
import { TahoeError } from '../errors.js';
import { formatFurl, formatNurl, hintToDialTarget, nurlToDialTarget, nurlsFromHints, parseFurl, parseNurl, type ConnectionHint, type Nurl } from '../net/hints.js';
import type { DialTarget } from '../net/transport.js';

/** The certificate pin of an introducer. */
export type IntroducerPin = { kind: 'spki'; spkiHash: string } | { kind: 'tubid'; tubId: string };

/** One way to reach the introducer: a NURL or a fURL hint. */
export type IntroducerLocationItem = { kind: 'nurl'; nurl: Nurl } | { kind: 'hint'; hint: ConnectionHint };

export interface IntroducerAddress {
  pin: IntroducerPin;
  /** Secret: never log. */
  swissnum: string;
  locations: IntroducerLocationItem[];
}

export function locationTarget(item: IntroducerLocationItem): DialTarget {
  return item.kind === 'nurl' ? nurlToDialTarget(item.nurl) : hintToDialTarget(item.hint);
}

/** The one-line fURL form (`private/introducer.furl`). */
export function introducerFurl(tubId: string, swissnum: string, hints: readonly ConnectionHint[]): string {
  return formatFurl({ tubId, hints: [...hints], swissnum });
}

/** One NURL per `tcp:`, `tor:` or `i2p:` hint (nurlsFromHints: legacy `HOST:PORT` and unknown hints get none). */
export function introducerNurls(spkiHash: string, swissnum: string, hints: readonly ConnectionHint[]): Nurl[] {
  return nurlsFromHints(spkiHash, swissnum, hints);
}

/** The text of `private/introducer.nurls`: one NURL per line. */
export function formatNurlsFile(nurls: readonly Nurl[]): string {
  return nurls.map((n) => formatNurl(n) + '\n').join('');
}

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('EndpointInvalid', message, { hint });
}

/**
 * Parse what a client was given for an introducer: its fURL-form line, or one or more of
 * its NURLs (separated by spaces, commas or line breaks). NURLs must all name the same
 * introducer (same SPKI hash and swissnum).
 */
export function parseIntroducerLocation(text: string): IntroducerAddress {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw bad('the introducer URL is empty', 'copy the content of the introducer\'s private/introducer.furl');
  const nurlWords = words.filter((w) => w.includes('#'));
  if (nurlWords.length > 0 && nurlWords.length < words.length) {
    throw bad('the introducer URL mixes a fURL and NURLs', 'give either the line of private/introducer.furl or NURLs from private/introducer.nurls');
  }
  if (nurlWords.length === 0) {
    if (words.length > 1) throw bad('the introducer URL has several fURLs', 'give one fURL per introducer; separate hints inside it with commas');
    const furl = parseFurl(words[0]);
    if (furl.hints.length === 0) throw bad('the introducer fURL names no location (nothing between "@" and "/")', 'the introducer\'s tub.location gives no hint; fix it there and copy private/introducer.furl again');
    return { pin: { kind: 'tubid', tubId: furl.tubId }, swissnum: furl.swissnum, locations: furl.hints.map((hint) => ({ kind: 'hint', hint })) };
  }
  const nurls = words.flatMap((w) => w.split(',')).filter((w) => w !== '').map((w) => parseNurl(w));
  if (nurls.length > 16) throw bad(`the introducer URL lists ${nurls.length} NURLs`, 'give at most 16 NURLs for one introducer');
  const first = nurls[0];
  for (const n of nurls.slice(1)) {
    if (n.spkiHash !== first.spkiHash || n.swissnum !== first.swissnum) {
      throw bad('the NURLs given for one introducer name different introducers', 'give each introducer its own petname in private/introducers.yaml');
    }
  }
  return { pin: { kind: 'spki', spkiHash: first.spkiHash }, swissnum: first.swissnum, locations: nurls.map((nurl) => ({ kind: 'nurl', nurl })) };
}
