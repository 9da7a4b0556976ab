// The ACK a client transaction sends for a non-2xx final response to an INVITE (RFC 3261 §17.1.1.3).

import { SipRequest, splitCommaList, type HeaderField, type SipResponse } from '../sip/message.ts';
import { cseqNumber } from './matching.ts';

/**
 * RFC 3261 §17.1.1.3: Request-URI, Call-ID, From, CSeq number and the top Via (only) of the INVITE, To of the
 * response, CSeq method ACK, and the INVITE's Route header fields.
 */
export function ackForNonSuccess(invite: SipRequest, res: SipResponse): SipRequest {
  const headers: HeaderField[] = [];
  let via = false;
  let maxForwards = false;
  for (const h of invite.headers) {
    switch (h.key) {
      case 'via':
        if (!via) {
          via = true;
          headers.push(h.value.indexOf(',') < 0 ? h : { name: h.name, key: 'via', value: splitCommaList(h.value)[0] });
        }
        break;
      case 'to': {
        const to = res.fields('to')[0];
        headers.push(to ?? h);
        break;
      }
      case 'cseq':
        headers.push({ name: h.name, key: 'cseq', value: `${cseqNumber(h.value)} ACK` });
        break;
      case 'max-forwards':
        maxForwards = true;
        headers.push(h);
        break;
      case 'from':
      case 'call-id':
      case 'route':
        headers.push(h);
        break;
    }
  }
  if (!maxForwards) headers.push({ name: 'Max-Forwards', key: 'max-forwards', value: '70' });
  return new SipRequest('ACK', invite.uri, headers);
}
