// ACK for a non-2xx and CANCEL are built from the INVITE they answer (RFC 3261 §17.1.1.3, §9.1). Pure.
import { SipRequest, type HeaderField, type SipResponse } from '../sip/message.ts';
import { splitCommaList } from '../sip/params.ts';
import { cseqNumber } from './matching.ts';

/**
 * The INVITE's Request-URI, Call-ID, From, To, Route header fields and only its top Via, CSeq with the INVITE's
 * number and `method`, and Max-Forwards (70 when the INVITE had none, §8.1.1.6). `to` replaces the To field.
 */
function fromInvite(invite: SipRequest, method: 'ACK' | 'CANCEL', to?: HeaderField): SipRequest {
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
      case 'to':
        headers.push(to ?? h);
        break;
      case 'cseq':
        headers.push({ name: h.name, key: 'cseq', value: `${cseqNumber(h.value)} ${method}` });
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
  return new SipRequest(method, invite.uri, headers);
}

/**
 * RFC 3261 §17.1.1.3: Request-URI, Call-ID, From, CSeq number and the top Via (only) of the INVITE, To of the
 * response, CSeq method ACK, and the INVITE's Route header fields.
 */
export function ackForNonSuccess(invite: SipRequest, res: SipResponse): SipRequest {
  return fromInvite(invite, 'ACK', res.fields('to')[0]);
}

/**
 * RFC 3261 §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL
 * request MUST be identical to those in the request being cancelled, including tags. ... MUST have a single Via
 * header field value matching the top Via value in the request being cancelled" and the same Route header fields.
 */
export function cancelFor(invite: SipRequest): SipRequest {
  return fromInvite(invite, 'CANCEL');
}
