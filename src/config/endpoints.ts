/**
 * The endpoint-valued keys of tahoe.cfg (`tub.port`, `tub.location`, `web.port`,
 * `[tor] socks.port`/`control.port`, `[i2p] sam.port`), parsed by net/hints and reported
 * as configuration errors naming the file, line and key.
 *
 * Spec: shared/specs/configuration.md §2 (syntax of each key), §3a (original-design
 * `tub.location` items); the grammars themselves live in src/net/hints/.
 */
import { TahoeError, isTahoeError } from '../errors.js';
import {
  parseClientEndpoint, parseServerEndpoint, parseTubLocation, parseTubPort,
  type ClientEndpoint, type ServerEndpoint, type TubLocation, type TubPort,
} from '../net/hints.js';
import { invalidValue, type ValueSource } from './values.js';

export type EndpointValueType = 'server-endpoints' | 'hints' | 'server-endpoint' | 'client-endpoint';

/** Run a net/hints parser, turning its `EndpointInvalid` into `ConfigInvalid` at the key. */
function atKey<T>(src: ValueSource, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (isTahoeError(e, 'EndpointInvalid') || isTahoeError(e, 'OnionAddressInvalid') || isTahoeError(e, 'I2pAddressInvalid') || isTahoeError(e, 'BadInput')) {
      const at = invalidValue(src, `is invalid: ${e.message}`, e.hint);
      throw new TahoeError('ConfigInvalid', at.message, { hint: e.hint, details: at.details, cause: e });
    }
    throw e;
  }
}

export function parseTubPortValue(value: string, src: ValueSource): TubPort {
  return atKey(src, () => parseTubPort(value));
}

export function parseTubLocationValue(value: string, src: ValueSource): TubLocation {
  return atKey(src, () => parseTubLocation(value));
}

export function parseServerEndpointValue(value: string, src: ValueSource): ServerEndpoint {
  return atKey(src, () => parseServerEndpoint(value, `[${src.section}] ${src.key}`));
}

export function parseClientEndpointValue(value: string, src: ValueSource): ClientEndpoint {
  return atKey(src, () => parseClientEndpoint(value, `[${src.section}] ${src.key}`));
}

/** Check an endpoint-valued key; empty values are left to the cross-key rules. */
export function checkEndpointValue(type: EndpointValueType, value: string, src: ValueSource): void {
  switch (type) {
    case 'server-endpoints':
      parseTubPortValue(value, src);
      return;
    case 'hints':
      parseTubLocationValue(value, src);
      return;
    case 'server-endpoint':
      if (value !== '') parseServerEndpointValue(value, src);
      return;
    case 'client-endpoint':
      if (value !== '') parseClientEndpointValue(value, src);
      return;
  }
}
