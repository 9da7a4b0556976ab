// The CANCEL a proxy sends for one of its pending INVITE branches (RFC 3261 §9.1, §16.10). Pure.
import { SipRequest, splitCommaList, type HeaderField } from '../sip/message.ts';

/**
 * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL request
 * MUST be identical to those in the request being cancelled, including tags. ... MUST have a single Via header
 * field value matching the top Via value in the request being cancelled" and the same Route header fields.
 */
export function cancelFor(invite: SipRequest): SipRequest {
  const headers: HeaderField[] = [];
  let via = false;
  for (const h of invite.headers) {
    switch (h.key) {
      case 'via':
        if (!via) {
          via = true;
          headers.push(h.value.indexOf(',') < 0 ? h : { name: h.name, key: 'via', value: splitCommaList(h.value)[0] });
        }
        break;
      case 'cseq':
        headers.push({ name: h.name, key: 'cseq', value: `${parseInt(h.value, 10)} CANCEL` });
        break;
      case 'from':
      case 'to':
      case 'call-id':
      case 'route':
      case 'max-forwards':
        headers.push(h);
        break;
    }
  }
  return new SipRequest('CANCEL', invite.uri, headers);
}
