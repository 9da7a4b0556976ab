// Messages the TV sends (RFC 3428): text or a picture to a user of our server, which delivers it now or keeps
// it (202) for a user who is offline. SIP.js calls this part the Messager.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { SipError } from '../../errors.ts';
import { newCallId, newTag } from '../../sip/ids.ts';
import { SipRequest } from '../../sip/message.ts';
import type { AgentContext } from './context.ts';

const PICTURE_TYPES: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif', '.webp': 'image/webp',
};

/** Content-Type for a picture file, from its extension. */
export function pictureContentType(file: string): string {
  const ext = extname(file).toLowerCase();
  const type = Object.hasOwn(PICTURE_TYPES, ext) ? PICTURE_TYPES[ext] : undefined;
  if (type !== undefined) return type;
  const accept = [...new Set(Object.values(PICTURE_TYPES))].join(', ');
  throw new SipError('unsupported-media-type', { detail: `Unsupported picture type ${ext || '(none)'}`, accept });
}

export class Messager {
  readonly #ctx: AgentContext;

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  /** RFC 3428: a MESSAGE to a user; resolves with the final status (202 when the server kept it). */
  async sendMessage(user: string, body: Uint8Array | string, contentType = 'text/plain;charset=utf-8'): Promise<number> {
    const ctx = this.#ctx;
    const core = ctx.core;
    if (core === null) return 503;
    const req = new SipRequest('MESSAGE', `sip:${user}@${ctx.domain}`);
    req.addHeader('From', `<${ctx.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${user}@${ctx.domain.split(':')[0]}>`);
    req.addHeader('Call-ID', newCallId());
    req.addHeader('CSeq', '1 MESSAGE');
    req.addHeader('Content-Type', contentType);
    req.body = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const res = await core.request(req);
    ctx.emit('message-sent', { to: user, status: res.status, reason: res.reason });
    return res.status;
  }

  /** A picture as a MESSAGE body (image/jpeg or image/png from the file's extension). */
  async sendPicture(user: string, file: string): Promise<number> {
    const type = pictureContentType(file);
    return this.sendMessage(user, await readFile(file), type);
  }
}
