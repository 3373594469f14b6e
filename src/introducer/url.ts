/**
 * How a tahoe-ts introducer is named and reached.
 *
 * An introducer has one TLS identity (its node certificate), one swissnum (the secret
 * every request carries) and the location hints of its `tub.location`. Two spellings name
 * it, and clients accept both:
 *
 * - the **NURL form**, one NURL per hint (storage-protocol.md §1: exactly one netloc per
 *   NURL; a legacy `HOST:PORT` hint gets none, as for a 1.20 storage server):
 *   `pb://SPKIHASH@HOST:PORT/SWISSNUM#v=1`, `pb+tor://…onion:PORT/…#v=1`,
 *   `pb+i2p://…b32.i2p[:PORT]/…#v=1`; the SHA-256 SPKI pin of HTTPS storage. This is what
 *   `private/introducer.furl` holds, one NURL per line (the file name Tahoe users know;
 *   the content is HTTPS, which only tahoe-ts speaks). A client is given one or several,
 *   separated by spaces, commas or line breaks (`create-node --introducer`,
 *   `private/introducers.yaml`, `[client] introducer.furl`, where tahoe-ts accepts the
 *   `#v=1` fragments 1.20 would refuse).
 * - the **fURL form**, `pb://TUBID@HINT,HINT/SWISSNUM` — Tahoe's fURL syntax, TubID =
 *   base32(SHA-1(certificate DER)) as Foolscap pins it, every hint in one line. Older
 *   tahoe-ts introducers wrote it, so clients still accept it; an introducer writes it now
 *   only when none of its hints can be a NURL (no location, or legacy `HOST:PORT` hints
 *   only), because the file must still carry the swissnum.
 *
 * Either way the client checks the pin on the TLS connection before it sends the swissnum
 * (https-request.ts). Real Tahoe-LAFS nodes cannot use a tahoe-ts introducer: it speaks
 * HTTPS, not Foolscap.
 */
import { TahoeError } from '../errors.js';
import { formatFurl, formatNurl, hintToDialTarget, nurlToDialTarget, nurlsFromHints, parseFurl, parseNurl, parseServiceUrl, type ConnectionHint, type Nurl } from '../net/hints.js';
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

/** The one-line fURL form (what older introducers wrote; now only the fallback of introducerFileContent). */
export function introducerFurl(tubId: string, swissnum: string, hints: readonly ConnectionHint[]): string {
  return formatFurl({ tubId, hints: [...hints], swissnum });
}

/** One NURL per `tcp:`, `tor:` or `i2p:` hint (nurlsFromHints: legacy `HOST:PORT` and unknown hints get none). */
export function introducerNurls(spkiHash: string, swissnum: string, hints: readonly ConnectionHint[]): Nurl[] {
  return nurlsFromHints(spkiHash, swissnum, hints);
}

/** What `private/introducer.furl` holds for an introducer, and which hints it cannot name. */
export interface IntroducerFileContent {
  /** The file's lines: one NURL each, or the one fURL-form line when no hint gets a NURL. */
  lines: string[];
  nurls: Nurl[];
  /** `tub.location` hints no NURL names (legacy `HOST:PORT`, unknown types). */
  hintsWithoutNurl: ConnectionHint[];
}

/**
 * The content of `private/introducer.furl`: the NURLs, one per line. When no hint can be a
 * NURL the fURL form is written instead, because the file is also where the swissnum
 * survives a restart, and the fURL form is the only spelling that carries it (and such
 * hints) without a NURL-capable location.
 */
export function introducerFileContent(pins: { spkiHash: string; tubId: string }, swissnum: string, hints: readonly ConnectionHint[]): IntroducerFileContent {
  const nurls = introducerNurls(pins.spkiHash, swissnum, hints);
  const hintsWithoutNurl = hints.filter((h) => introducerNurls(pins.spkiHash, swissnum, [h]).length === 0);
  const lines = nurls.length > 0 ? nurls.map(formatNurl) : [introducerFurl(pins.tubId, swissnum, hints)];
  return { lines, nurls, hintsWithoutNurl };
}

/** The text of `private/introducer.furl`: one line each. */
export function formatIntroducerFile(lines: readonly string[]): string {
  return lines.map((l) => l + '\n').join('');
}

/**
 * The swissnum recorded in a `private/introducer.furl` (NURLs, one per line, or the older
 * fURL-form line); undefined for an empty file. Every URL in it must carry the same
 * swissnum: the file names one introducer.
 */
export function introducerFileSwissnum(text: string): string | undefined {
  const words = text.split(/\s+/).filter((w) => w !== '');
  let swissnum: string | undefined;
  for (const word of words) {
    const url = parseServiceUrl(word);
    const own = url.version === 0 ? url.furl.swissnum : url.nurl.swissnum;
    if (swissnum !== undefined && own !== swissnum) {
      throw bad('the introducer\'s URLs carry different swissnums', 'the file names one introducer: keep the lines the introducer wrote');
    }
    swissnum = own;
  }
  return swissnum;
}

function bad(message: string, hint: string): TahoeError {
  return new TahoeError('EndpointInvalid', message, { hint });
}

/**
 * Parse what a client was given for an introducer: one or more of its NURLs (separated by
 * spaces, commas or line breaks: the content of its `private/introducer.furl`), or the
 * fURL-form line older introducers wrote. NURLs must all name the same introducer (same
 * SPKI hash and swissnum).
 */
export function parseIntroducerLocation(text: string): IntroducerAddress {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw bad('the introducer URL is empty', 'copy the content of the introducer\'s private/introducer.furl');
  const nurlWords = words.filter((w) => w.includes('#'));
  if (nurlWords.length > 0 && nurlWords.length < words.length) {
    throw bad('the introducer URL mixes a fURL and NURLs', 'give the NURLs of the introducer\'s private/introducer.furl, or the one fURL-form line an older introducer wrote, not both');
  }
  if (nurlWords.length === 0) {
    if (words.length > 1) throw bad('the introducer URL has several fURLs', 'give one fURL per introducer; separate hints inside it with commas');
    const furl = parseFurl(words[0]);
    if (furl.hints.length === 0) throw bad('the introducer fURL names no location (nothing between "@" and "/")', 'the introducer\'s tub.location gives no hint; fix it there, restart the introducer and copy its private/introducer.furl again');
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
