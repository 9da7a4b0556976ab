// A capability's answer as the wire would see it: its response, or the failure it threw as routing replies it
// (sip/response.ts errorResponse with the given policy). Other rejections (bugs) stay rejections.
import type { SipRequest, SipResponse } from '../../src/sip/message.ts';
import { errorResponse, failureOf } from '../../src/sip/response.ts';
import type { ReplyPolicy } from '../../src/replies.ts';

export async function answerOf(req: SipRequest, pending: Promise<SipResponse | { response: SipResponse }>, policy: ReplyPolicy = { retryAfterSeconds: 5 }): Promise<SipResponse> {
  try {
    const r = await pending;
    return 'response' in r ? r.response : r;
  } catch (err) {
    const failure = failureOf(err);
    if (failure === null) throw err;
    return errorResponse(req, failure, policy);
  }
}
