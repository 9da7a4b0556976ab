import assert from 'node:assert/strict';
import type { UserAgentCore } from '../../../src/dialog/user-agent-core.ts';
import type { SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import type { AgentContext } from '../../../src/terminal/agent/context.ts';
import { Registerer } from '../../../src/terminal/agent/registerer.ts';
import type { TvAgentEvents } from '../../../src/terminal/events.ts';
import { FakeClock } from '../../helpers/fake-message-store.ts';

describe('terminal/agent/registerer (RFC 3261 §10.2)', () => {
  function setup(answer: (req: SipRequest) => number) {
    const clock = new FakeClock();
    const sent: SipRequest[] = [];
    const events: string[] = [];
    const core = {
      request: async (req: SipRequest) => {
        sent.push(req);
        const res = createResponse(req, answer(req), undefined, 'srv');
        if (res.status === 200) res.addHeader('Expires', '100');
        return res;
      },
    } as unknown as UserAgentCore;
    const ctx: AgentContext = {
      options: { user: '1001', password: 'pw', server: 'sip:127.0.0.1', transport: 'tcp', localIp: '127.0.0.1', downloadDir: '.', contacts: [],
        autoAnswer: false, toneHz: 440, expires: 300, presenceExpires: 600, keepAliveMs: 0, retryMinMs: 1_000, retryMaxMs: 4_000, rtcpIntervalMs: 5_000 },
      domain: '127.0.0.1', aor: 'sip:1001@127.0.0.1', clock, core, contact: 'sip:1001@127.0.0.1:5070;transport=tcp', stopped: false,
      emit: <K extends keyof TvAgentEvents>(event: K, ..._args: TvAgentEvents[K]) => void events.push(event),
      error: () => {},
    };
    let firsts = 0;
    const r = new Registerer(ctx, { transport: 'tcp', address: '127.0.0.1', port: 5060 }, { registered: () => firsts++, flowLost: () => {} });
    return { clock, sent, events, r, firsts: () => firsts };
  }

  it('refreshes on the clock at 80 % of the granted expiry, same Call-ID, CSeq + 1 (§10.2.4)', async () => {
    const { clock, sent, r, firsts } = setup(() => 200);
    assert.equal(await r.register(), true);
    assert.equal(clock.nextDelay(), 80_000);
    await clock.tick(80_000);
    assert.equal(sent.length, 2);
    assert.equal(sent[1].callId, sent[0].callId);
    assert.deepEqual(sent.map((s) => s.header('cseq')), ['1 REGISTER', '2 REGISTER']);
    assert.equal(firsts(), 1, 'the registered hook runs only on the first 200');
    r.stop();
    assert.equal(clock.pending, 0);
  });

  it('retries a failed REGISTER with doubling back-off up to retryMaxMs', async () => {
    const { clock, events, r } = setup(() => 503);
    await r.register();
    const waits = [clock.nextDelay()];
    for (let i = 0; i < 3; i++) {
      await clock.tick(clock.nextDelay()!);
      waits.push(clock.nextDelay());
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 4_000]);
    assert.ok(events.every((e) => e === 'registration-failed'));
    r.stop();
  });
});
