/**
 * The name server of a private Tor network's exits: a tiny DNS server on 127.0.0.1 (UDP)
 * that answers A queries for `localhost` and names under `.localhost` with 127.0.0.1
 * (RFC 6761 §6.3: such names are loopback by definition) and refuses everything else
 * with NXDOMAIN. The exits of the test network point `ServerDNSResolvConfFile` at it, so
 * a client can dial a server *by host name* through Tor, exactly as on the real network:
 * the client sends the name unresolved (SOCKS ATYP 3), the exit resolves it, and this
 * server records that it was asked — proof that the client did not resolve it itself.
 * Nothing is ever forwarded: a query for any other name stays on this machine.
 *
 * Wire format: RFC 1035 §4.1 (header, question, answer RR); query names may arrive in
 * mixed case (tor's ServerDNSRandomizeCase, "DNS 0x20"), so they are matched without case
 * and echoed byte for byte. Malformed packets are dropped, never answered.
 */
import dgram from 'node:dgram';
import { TahoeError } from '../errors.js';

export interface ExitDnsQuery {
  /** Lower-cased query name without the trailing dot. */
  name: string;
  /** 1 = A, 28 = AAAA, … */
  type: number;
  answered: boolean;
  at: number;
}

export interface ExitDnsServer {
  readonly port: number;
  /** A `resolv.conf` line for tor (`nameserver 127.0.0.1:PORT`). */
  readonly resolvConf: string;
  /** Every well-formed query so far, oldest first. */
  queries(): readonly ExitDnsQuery[];
  close(): Promise<void>;
}

export interface DnsQuestion {
  id: number;
  flags: number;
  /** The name as sent (case preserved), labels joined by dots. */
  name: string;
  type: number;
  klass: number;
  /** Byte offset just after the question. */
  end: number;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const MAX_QUERY_BYTES = 512;

/** Names this server answers: `localhost` and `*.localhost` (RFC 6761). */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === 'localhost' || n.endsWith('.localhost');
}

function malformed(why: string): TahoeError {
  return new TahoeError('BadInput', `malformed DNS query: ${why}`, { hint: 'only standard one-question DNS queries are answered' });
}

/** Parse a DNS query with exactly one question (no compression in queries). */
export function parseDnsQuery(packet: Buffer): DnsQuestion {
  if (packet.length < 12) throw malformed('shorter than a header');
  if (packet.length > MAX_QUERY_BYTES) throw malformed('longer than 512 bytes');
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000) throw malformed('it is a response');
  if ((flags >> 11) & 0x0f) throw malformed('not a standard query');
  if (packet.readUInt16BE(4) !== 1) throw malformed('not exactly one question');
  const labels: string[] = [];
  let offset = 12;
  let length = 0;
  for (;;) {
    if (offset >= packet.length) throw malformed('name runs past the end');
    const n = packet[offset];
    if (n === 0) {
      offset += 1;
      break;
    }
    if (n > 63) throw malformed('compressed or oversized label');
    if (offset + 1 + n > packet.length) throw malformed('label runs past the end');
    const label = packet.subarray(offset + 1, offset + 1 + n);
    if (label.some((b) => b < 0x21 || b > 0x7e || b === 0x2e)) throw malformed('label with unusual bytes');
    labels.push(label.toString('latin1'));
    length += n + 1;
    if (length > 255) throw malformed('name longer than 255 bytes');
    offset += 1 + n;
  }
  if (offset + 4 > packet.length) throw malformed('question type runs past the end');
  return { id, flags, name: labels.join('.'), type: packet.readUInt16BE(offset), klass: packet.readUInt16BE(offset + 2), end: offset + 4 };
}

/** The answer to one query: 127.0.0.1 for A/localhost, no data for other types, NXDOMAIN else. */
export function answerDnsQuery(packet: Buffer, question: DnsQuestion): { response: Buffer; answered: boolean } {
  const known = question.klass === CLASS_IN && isLoopbackName(question.name);
  const answer = known && question.type === TYPE_A;
  const rcode = known ? 0 : 3;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(question.id, 0);
  // QR, opcode 0, RD copied, RA, rcode
  header.writeUInt16BE(0x8000 | (question.flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answer ? 1 : 0, 6);
  const questionBytes = packet.subarray(12, question.end);
  const parts = [header, questionBytes];
  if (answer) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(4, 10);
    Buffer.from([127, 0, 0, 1]).copy(rr, 12);
    parts.push(rr);
  }
  return { response: Buffer.concat(parts), answered: answer };
}

/** Start the server on a free loopback UDP port. */
export async function startExitDns(): Promise<ExitDnsServer> {
  const socket = dgram.createSocket('udp4');
  const log: ExitDnsQuery[] = [];
  socket.on('message', (packet, peer) => {
    let question: DnsQuestion;
    try {
      question = parseDnsQuery(packet);
    } catch {
      return;
    }
    const { response, answered } = answerDnsQuery(packet, question);
    log.push({ name: question.name.toLowerCase(), type: question.type, answered, at: Date.now() });
    if (log.length > 10_000) log.splice(0, log.length - 10_000);
    socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  socket.unref();
  const port = socket.address().port;
  let closing: Promise<void> | undefined;
  return {
    port,
    resolvConf: `nameserver 127.0.0.1:${port}\n`,
    queries: () => log,
    close: () => (closing ??= new Promise((resolve) => socket.close(() => resolve()))),
  };
}

export { TYPE_A as DNS_TYPE_A, TYPE_AAAA as DNS_TYPE_AAAA };
