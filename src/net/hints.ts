/**
 * Endpoint strings, connection hints, fURLs and NURLs: one strict parser and formatter per
 * form, every failure a `TahoeError` of kind `EndpointInvalid`, `OnionAddressInvalid` or
 * `I2pAddressInvalid` with a hint. The implementation is split by form under hints/; this
 * module is the one import for the rest of the code base.
 *
 * Specs: Twisted endpoint descriptors; foolscap connection hints and `furl.py`; tahoe-lafs
 * `docs/specifications/url.rst` (fURL/NURL); shared/specs/configuration.md §2–§3a
 * (tub.port, tub.location), storage-protocol.md §1, tor.md §3, i2p.md §3–4.
 * User documentation of every accepted form: docs/endpoints.md.
 */
export { parseDescriptor, formatDescriptor, escapeField, escapeValue, type Descriptor } from './hints/descriptor.js';
export { checkHost, parsePort, hostForUrl, isNonPublicNumericAddress, isLoopbackAddress, type HostFamily } from './hints/host.js';
export {
  parseHint,
  formatHint,
  parseClientEndpoint,
  formatClientEndpoint,
  type ConnectionHint,
  type ClientEndpoint,
  type ParseHintOptions,
} from './hints/client.js';
export { parseServerEndpoint, formatServerEndpoint, type ServerEndpoint, type OnionServerEndpoint } from './hints/server.js';
export {
  parseTubLocation,
  formatTubLocation,
  parseLocationItem,
  formatLocationItem,
  parseTubPort,
  formatTubPort,
  type LocationItem,
  type TubLocation,
  type TubPort,
} from './hints/location.js';
export {
  parseFurl,
  formatFurl,
  parseNurl,
  formatNurl,
  nurlsFromHints,
  parseServiceUrl,
  formatServiceUrl,
  type Furl,
  type Nurl,
  type NurlScheme,
  type ServiceUrl,
} from './hints/furl.js';
export { hintToDialTarget, nurlToDialTarget, clientEndpointToDialTarget, clientEndpointToSocketEndpoint } from './hints/dial-target.js';
export { parseOnionAddress, isOnionV3Address, isOnionName, onionAddressFromPublicKey } from './tor/onion-address.js';
export { parseI2pAddress, isI2pAddress, isB32Address, type I2pAddress } from './i2p/address.js';
