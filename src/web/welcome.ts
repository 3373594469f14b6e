/**
 * The welcome page, `GET /`: as HTML for people and as `?t=json` for programs.
 *
 * JSON shape: Tahoe-LAFS 1.20's `Root.render_JSON` (src/allmydata/web/root.py) —
 * `{"introducers": {"statuses": [summary…]}, "servers": [{nodeid, connection_status,
 * available_space, nickname, version, last_received_data}]}` — so tools written for
 * Tahoe read it unchanged. tahoe-ts adds keys Tahoe does not have (documented in
 * docs/web-api.md): per server `transport`, `connected`, `since`, `last_rtt_ms`,
 * `announced_via`, `last_error`; and top-level `node` and `introducers.details`.
 *
 * Addresses (onion, I2P, IP) in listener descriptions and error texts are redacted
 * unless the node runs with `[node] log_sensitive = true`, or the page is asked with
 * `?show_addresses=1` from loopback. Secrets (caps, fURLs, keys) are always redacted.
 * Every string that came from a peer (nicknames, errors) is HTML-escaped.
 */
import type { IntroducerConnectionStatus, NodeStatus } from '../node/node.js';
import type { ServerStatus } from '../grid/client.js';
import { redact } from '../log.js';
import { abbreviateSize, describeDuration, formatTime, html, raw, type RawHtml } from './html.js';

export interface WelcomeOptions {
  /** Show addresses unredacted. */
  revealAddresses: boolean;
  /** Whether the page may offer the `show_addresses` link (loopback requests). */
  offerReveal: boolean;
  /** Epoch ms, for "since" texts (tests pass a fixed clock). */
  now: number;
  /** Whether this node can upload (it has a grid client). */
  canUpload: boolean;
}

export interface WelcomeServerJson {
  nodeid: string;
  connection_status: string;
  available_space: number | null;
  nickname: string;
  version: string | null;
  last_received_data: number | null;
  transport: 'tcp' | 'tor' | 'i2p' | null;
  connected: boolean;
  since: number | null;
  last_rtt_ms: number | null;
  announced_via: string;
  last_error: string | null;
}

export interface WelcomeJson {
  introducers: { statuses: string[]; details: Array<Omit<IntroducerConnectionStatus, 'lastError'> & { lastError?: string }> };
  servers: WelcomeServerJson[];
  node: { nickname: string; nodeid: string; node_type: string; listeners: Array<{ transport: string; description: string }>; storage: boolean; introducer: NodeStatus['introducer'] | null };
}

function serverSummary(s: ServerStatus, reveal: boolean): string {
  if (s.connected) return `Connected${s.transport === undefined ? '' : ` via ${s.transport}`}`;
  if (s.lastError !== undefined) return `Connection failed: ${redact(s.lastError, reveal)}`;
  return 'Trying to connect';
}

function introducerSummary(i: IntroducerConnectionStatus, reveal: boolean): string {
  if (i.connected) return `Connected to introducer "${i.petname}"${i.transport === undefined ? '' : ` via ${i.transport}`}`;
  if (i.lastError !== undefined) return `No connection to introducer "${i.petname}": ${redact(i.lastError, reveal)}`;
  return `Trying to connect to introducer "${i.petname}"`;
}

/** Sort: connected first, then by nickname, then by id (stable for tests and people). */
function sortedServers(servers: readonly ServerStatus[]): ServerStatus[] {
  return [...servers].sort((a, b) => Number(b.connected) - Number(a.connected) || a.nickname.localeCompare(b.nickname) || a.serverId.localeCompare(b.serverId));
}

export function welcomeJson(status: NodeStatus, options: Pick<WelcomeOptions, 'revealAddresses'>): WelcomeJson {
  const reveal = options.revealAddresses;
  return {
    introducers: {
      statuses: status.introducers.map((i) => introducerSummary(i, reveal)),
      details: status.introducers.map((i) => ({ ...i, ...(i.lastError === undefined ? {} : { lastError: redact(i.lastError, reveal) }) })),
    },
    servers: sortedServers(status.servers).map((s) => ({
      nodeid: s.serverId,
      connection_status: serverSummary(s, reveal),
      available_space: s.availableSpace === undefined ? null : Number(s.availableSpace),
      nickname: s.nickname,
      version: null,
      last_received_data: null,
      transport: s.transport ?? null,
      connected: s.connected,
      since: s.since === undefined ? null : s.since / 1000,
      last_rtt_ms: s.lastRttMs ?? null,
      announced_via: s.announcedVia,
      last_error: s.lastError === undefined ? null : redact(s.lastError, reveal),
    })),
    node: {
      nickname: status.nickname,
      nodeid: status.serverId,
      node_type: status.nodeType,
      listeners: status.listeners.map((l) => ({ transport: l.transport, description: redact(l.description, reveal) })),
      storage: status.storage !== undefined,
      introducer: status.introducer ?? null,
    },
  };
}

function since(epochMs: number | undefined, now: number): RawHtml {
  if (epochMs === undefined) return html`<span class="muted">–</span>`;
  return html`<span title="${new Date(epochMs).toISOString()}">${formatTime(epochMs)}</span> <span class="muted">(${describeDuration(now - epochMs)} ago)</span>`;
}

function serverRow(s: ServerStatus, o: WelcomeOptions): RawHtml {
  const state = s.connected ? 'connected' : 'disconnected';
  return html`<tr class="server ${state}" data-nodeid="${s.serverId}">
  <td class="nickname">${s.nickname}</td>
  <td class="nodeid"><code title="${s.serverId}">${s.serverId.slice(0, 13)}…</code></td>
  <td class="transport">${s.transport ?? '–'}</td>
  <td class="connected" data-connected="${String(s.connected)}">${s.connected ? 'Connected' : 'Disconnected'}${s.connected || s.lastError === undefined ? '' : html`<div class="error">${redact(s.lastError, o.revealAddresses)}</div>`}</td>
  <td class="since">${since(s.since, o.now)}</td>
  <td class="rtt" data-rtt-ms="${s.lastRttMs === undefined ? '' : String(s.lastRttMs)}">${s.lastRttMs === undefined ? '–' : `${s.lastRttMs} ms`}</td>
  <td class="space">${s.availableSpace === undefined ? '–' : abbreviateSize(s.availableSpace)}</td>
</tr>
`;
}

function introducerRow(i: IntroducerConnectionStatus, o: WelcomeOptions): RawHtml {
  return html`<tr class="introducer ${i.connected ? 'connected' : 'disconnected'}">
  <td class="petname">${i.petname}</td>
  <td class="transport">${i.transport ?? '–'}</td>
  <td class="connected">${i.connected ? 'Connected' : 'Disconnected'}${i.connected || i.lastError === undefined ? '' : html`<div class="error">${redact(i.lastError, o.revealAddresses)}</div>`}</td>
  <td class="since">${since(i.since, o.now)}</td>
  <td class="announcements">${i.announcements}</td>
</tr>
`;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; } th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
tr.connected td.connected { color: #17702a; } tr.disconnected td.connected { color: #a01818; }
.muted { color: #777; } .error { color: #a01818; font-size: .85em; max-width: 40em; }
fieldset { margin: .6em 0; max-width: 46em; } code { font-size: .9em; }
`;

export function welcomeHtml(status: NodeStatus, o: WelcomeOptions): string {
  const servers = sortedServers(status.servers);
  const connected = servers.filter((s) => s.connected).length;
  const introConnected = status.introducers.filter((i) => i.connected).length;
  const listeners = status.listeners.map((l) => html`<li>${l.transport}: ${redact(l.description, o.revealAddresses)}</li>`);
  const transports = status.transports.map((t) => html`<li>${t.name}: ${t.ready ? 'ready' : 'not ready'} — ${redact(t.summary, o.revealAddresses)}</li>`);
  const revealNote = o.revealAddresses
    ? html`<p class="muted">Addresses are shown.</p>`
    : o.offerReveal
      ? html`<p class="muted">Addresses are hidden. <a href="/?show_addresses=1">Show them</a> (this page only; secrets stay hidden).</p>`
      : html`<p class="muted">Addresses are hidden.</p>`;
  const upload = o.canUpload
    ? html`<h2>Files</h2>
<form id="upload-form" action="/uri" method="post" enctype="multipart/form-data">
  <fieldset><legend>Upload a file</legend>
    <input type="hidden" name="t" value="upload">
    <input type="file" name="file" id="upload-file"> <input type="submit" value="Upload" id="upload-submit">
  </fieldset>
</form>
<form id="download-form" action="/uri" method="get">
  <fieldset><legend>Download a file</legend>
    Cap: <input type="text" name="uri" size="60"> Save as: <input type="text" name="filename" size="16">
    <input type="hidden" name="save" value="true"> <input type="submit" value="Download">
  </fieldset>
</form>`
    : html``;
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tahoe-ts — ${status.nickname}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<h1>tahoe-ts node <span id="my-nickname">${status.nickname}</span></h1>
<table class="node">
<tr><th>Node ID</th><td><code id="my-nodeid">${status.serverId}</code></td></tr>
<tr><th>Type</th><td>${status.nodeType}${status.storage === undefined ? '' : ' with storage server'}</td></tr>
${status.storage === undefined ? '' : html`<tr><th>Storage server</th><td id="storage-state">${status.storage.announced ? 'announced' : 'not announced yet'} (${status.storage.nurls} NURL${status.storage.nurls === 1 ? '' : 's'})</td></tr>`}
${status.introducer === undefined ? '' : html`<tr><th>Introducer service</th><td id="introducer-state">${status.introducer.announcements} announcements, ${status.introducer.subscribersWaiting} subscribers waiting${status.introducer.warmingUp ? ', warming up' : ''}</td></tr>`}
</table>
${revealNote}
<h2>Listeners</h2>
<ul id="listeners">${listeners.length === 0 ? raw('<li class="muted">none (this node is not reachable)</li>') : listeners}</ul>
<h2>Transports</h2>
<ul id="transports">${transports.length === 0 ? raw('<li class="muted">none</li>') : transports}</ul>
<h2>Introducers <span class="muted" id="introducer-summary">(${introConnected} of ${status.introducers.length} connected)</span></h2>
${status.introducers.length === 0
    ? html`<p class="muted">No introducers configured.</p>`
    : html`<table id="introducers"><thead><tr><th>Petname</th><th>Reached via</th><th>Connected</th><th>Since</th><th>Announcements</th></tr></thead><tbody>
${status.introducers.map((i) => introducerRow(i, o))}</tbody></table>`}
<h2>Storage servers <span class="muted" id="server-summary">(${connected} of ${servers.length} connected)</span></h2>
${servers.length === 0
    ? html`<p class="muted" id="no-servers">No storage servers known yet.</p>`
    : html`<table id="servers"><thead><tr><th>Nickname</th><th>Node ID</th><th>Reached via</th><th>Connected</th><th>Since</th><th>Last RTT</th><th>Available space</th></tr></thead><tbody>
${servers.map((s) => serverRow(s, o))}</tbody></table>`}
${upload}
<p class="muted">Rendered at ${formatTime(o.now)}. Machine-readable: <a href="/?t=json">/?t=json</a>.</p>
</body>
</html>
`;
  return page.text;
}
