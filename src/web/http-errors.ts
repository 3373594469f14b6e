/**
 * Errors on the web gateway: every failure is a TahoeError, answered with a Tahoe-style
 * status code and a plain-text body naming the kind and the hint — never a stack trace.
 *
 * Status codes follow Tahoe-LAFS 1.20's `humanize_exception` (src/allmydata/web/common.py)
 * where it has one: bad arguments and caps 400, `NotEnoughSharesError` 410 (with its
 * "NotEnoughSharesError:" prefix, which scripts grep for), a conflict 409. Failures Tahoe
 * answers with 500 + traceback get a more precise code here (503 for "not enough
 * servers / network down", 502 for a misbehaving peer, 504 for a timeout).
 */
import type { ServerResponse } from 'node:http';
import { TahoeError, asTahoeError, type ErrorKind } from '../errors.js';
import { redact } from '../log.js';

/** A TahoeError that carries its own HTTP status (404, 405, 413, 501, …). */
export function webError(status: number, kind: ErrorKind, message: string, hint: string, details: Record<string, string> = {}): TahoeError {
  return new TahoeError(kind, message, { hint, details: { ...details, httpStatus: status } });
}

const STATUS_BY_KIND: Partial<Record<ErrorKind, number>> = {
  BadInput: 400,
  CapInvalid: 400,
  EndpointInvalid: 400,
  UsageError: 400,
  OnionAddressInvalid: 400,
  I2pAddressInvalid: 400,
  NotFound: 404,
  PrivacyViolation: 403,
  WriteConflict: 409,
  NotEnoughShares: 410,
  ShareCorrupt: 410,
  IntegrityError: 410,
  UploadUnhappy: 503,
  ServerUnreachable: 503,
  ProxyRefused: 503,
  ProxyProtocolError: 503,
  OnionNotFound: 503,
  OnionUnreachable: 503,
  OnionAuthRequired: 503,
  TorUnavailable: 503,
  TorControlError: 503,
  TorAuthFailed: 503,
  TorBootstrapTimeout: 503,
  I2pUnavailable: 503,
  SamRefused: 503,
  SamProtocolError: 503,
  NodeNotRunning: 503,
  Aborted: 503,
  Timeout: 504,
  TlsPinMismatch: 502,
  ProtocolError: 502,
  ServerRejected: 502,
};

export function httpStatusOf(err: TahoeError): number {
  const explicit = err.details.httpStatus;
  if (typeof explicit === 'number') return explicit;
  if (err.kind === 'CapInvalid' && err.details.supported === false) return 501;
  if (err.kind === 'DiskError') return err.details.code === 'ENOSPC' ? 507 : 500;
  return STATUS_BY_KIND[err.kind] ?? 500;
}

/** The plain-text error body: Tahoe's first line, then the kind and hint. */
export function errorBody(err: TahoeError, revealAddresses: boolean): string {
  const message = redact(err.message, revealAddresses);
  const first = err.kind === 'NotEnoughShares' ? `NotEnoughSharesError: ${message}` : message;
  return `${first}\nkind: ${err.kind}\nhint: ${redact(err.hint, revealAddresses)}\n`;
}

/**
 * Answer a request with an error. When the response has already started (a download
 * failing half-way), the only honest signal left is to cut the connection: the client
 * sees fewer bytes than Content-Length announced.
 */
export function sendError(res: ServerResponse, e: unknown, revealAddresses: boolean): TahoeError {
  const err = asTahoeError(e);
  if (res.headersSent) {
    res.destroy();
    return err;
  }
  const status = httpStatusOf(err);
  const body = Buffer.from(errorBody(err, revealAddresses), 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('X-Tahoe-Error-Kind', err.kind);
  res.setHeader('Cache-Control', 'no-store');
  if (status === 405 && typeof err.details.allow === 'string') res.setHeader('Allow', err.details.allow);
  if (status === 416 && typeof err.details.contentRange === 'string') res.setHeader('Content-Range', err.details.contentRange);
  res.end(res.req.method === 'HEAD' ? undefined : body);
  return err;
}
