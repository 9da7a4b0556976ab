// Building REGISTER requests for the registrar tests.
import { SipRequest, headerKey, type HeaderField, type SipResponse } from '../../../src/sip/message.ts';
import type { Registrar } from '../../../src/registrar/registrar.ts';
import type { Flow } from '../../../src/flow.ts';
import type { ReplyPolicy } from '../../../src/replies.ts';
import { answerOf } from '../../helpers/replies.ts';

export interface RegisterOpts {
  user?: string;
  contacts?: string[];
  expires?: string;
  callId?: string;
  cseq?: number;
  supported?: string;
  path?: string[];
  method?: string;
  extra?: [string, string][];
}

export function request(o: RegisterOpts = {}): SipRequest {
  const user = o.user ?? 'alice';
  const method = o.method ?? 'REGISTER';
  const h: [string, string][] = [
    ['Via', 'SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-test-1'],
    ['Max-Forwards', '70'],
    ['From', `<sip:${user}@example.com>;tag=from1`],
    ['To', method === 'REGISTER' ? `<sip:${user}@example.com>` : '<sip:bob@example.com>'],
    ['Call-ID', o.callId ?? 'call-1@127.0.0.1'],
    ['CSeq', `${o.cseq ?? 1} ${method}`],
  ];
  for (const c of o.contacts ?? []) h.push(['Contact', c]);
  if (o.expires !== undefined) h.push(['Expires', o.expires]);
  if (o.supported !== undefined) h.push(['Supported', o.supported]);
  for (const p of o.path ?? []) h.push(['Path', p]);
  for (const e of o.extra ?? []) h.push(e);
  const fields: HeaderField[] = h.map(([name, value]) => ({ name, key: headerKey(name), value }));
  return new SipRequest(method, method === 'REGISTER' ? 'sip:example.com' : 'sip:bob@example.com', fields);
}

export const tcp = (connectionId = 1, port = 5070): Flow => ({ transport: 'tcp', address: '127.0.0.1', port, connectionId });

/** registrar.save's answer as routing sends it: the 200, or the failure it threw as a reply. */
export const save = (r: Registrar, req: SipRequest, userId: string, source: Flow, policy?: ReplyPolicy): Promise<SipResponse> =>
  answerOf(req, r.save(req, userId, source), policy);
