// The HTTP side of content indirection (RFC 4483 §4.1, media-server/content-indirection.ts): GET
// /voicemail/<id>.wav?e=<expiry>&t=<token> serves the WAV of a kept voice message (<id>.mkv: the Matroska of a video message) to whoever holds the token the
// delivery MESSAGE carried. Nothing else is served; the token is the only credential (per message, expiring).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log/logger.ts';
import type { VoicemailStore } from '../store/store.ts';
import { verifyFetchToken } from './content-indirection.ts';
import { VIDEO_MESSAGE_TYPE } from './message-types.ts';

export interface RecordingsHttpOptions {
  host: string;
  port: number;
  secret: Uint8Array;
  store: Pick<VoicemailStore, 'voicemailAudio'>;
  clock: Pick<Clock, 'now'>;
  log: Logger;
}

export interface RecordingsHttp {
  readonly address: { host: string; port: number };
  /** stops listening and drops open connections; idempotent */
  close(): Promise<void>;
}

const PATH = /^\/voicemail\/(\d{1,15})\.(wav|mkv)$/;

export async function startRecordingsHttp(o: RecordingsHttpOptions): Promise<RecordingsHttp> {
  const server = http.createServer((req, res) => {
    req.resume();
    serve(req, res, o).catch((err: unknown) => {
      o.log.error({ err }, 'recordings http');
      if (!res.headersSent) reply(res, 500);
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 5_000;
  server.maxConnections = 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.log.warn({ err }, 'recordings http'));
  const a = server.address() as AddressInfo;
  o.log.info({ listen: `${a.address}:${a.port}` }, 'voice messages served over HTTP (RFC 4483 content indirection)');
  let closing: Promise<void> | null = null;
  return {
    address: { host: a.address, port: a.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function reply(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(`${status} ${http.STATUS_CODES[status] ?? ''}\n`);
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, o: RecordingsHttpOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, { Allow: 'GET, HEAD' });
  const url = new URL(req.url ?? '/', 'http://x');
  const m = PATH.exec(url.pathname);
  if (m === null) return reply(res, 404);
  const id = Number(m[1]);
  const expiresAt = Number(url.searchParams.get('e') ?? '');
  if (!verifyFetchToken(o.secret, id, expiresAt, url.searchParams.get('t') ?? '', o.clock.now())) return reply(res, 403);
  const wav = await o.store.voicemailAudio(id);
  const type = wav === null ? null : recordingType(wav);
  // the extension is the one its delivery named: a voice message is .wav, a video message .mkv
  if (wav === null || type !== (m[2] === 'mkv' ? VIDEO_MESSAGE_TYPE : 'audio/wav')) return reply(res, 404);
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(wav.byteLength), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : wav);
}

/** A recording's type from its own signature: the EBML header (Matroska, RFC 9559 §8) is a video message, else a WAV. */
function recordingType(b: Uint8Array): string {
  return b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3 ? VIDEO_MESSAGE_TYPE : 'audio/wav';
}
