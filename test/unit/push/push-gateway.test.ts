import assert from 'node:assert/strict';
import { PushGateway, type PushRequest } from '../../../src/push/push-gateway.ts';

const PUSH: PushRequest = { provider: 'tvphone', prid: 'tv-1', param: null, caller: 'alice', callId: 'c1', type: 'call' };

/** A fetch double: answers each call with the next of `answers` (a status, or 'hang' to wait for the abort). */
function fakeFetch(answers: Array<number | 'hang' | 'refuse'>) {
  const calls: Array<{ url: string; body: unknown }> = [];
  const f = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), body: JSON.parse(String(init?.body)) });
    const a = answers[calls.length - 1] ?? 500;
    if (a === 'refuse') throw new TypeError('fetch failed');
    if (a === 'hang') {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    return new Response(null, { status: a });
  }) as typeof fetch;
  return { f, calls };
}

describe('push gateway client (RFC 8599 §6 push request)', () => {
  it('POSTs the JSON body once when the gateway takes it', async () => {
    const { f, calls } = fakeFetch([200]);
    const gw = new PushGateway({ url: 'http://gw/push', timeoutMs: 1000, retries: 2, fetch: f });
    assert.equal(await gw.send(PUSH), true);
    assert.deepEqual(calls, [{ url: 'http://gw/push', body: PUSH }]);
    await gw.close();
  });

  it('retries a refused, failed or timed-out push at most `retries` times, then gives up', async function () {
    this.timeout(5000);
    const { f, calls } = fakeFetch(['refuse', 503, 'hang', 200]);
    const gw = new PushGateway({ url: 'http://gw/push', timeoutMs: 100, retries: 2, fetch: f });
    assert.equal(await gw.send(PUSH), false, 'three attempts, none taken');
    assert.equal(calls.length, 3);
    await gw.close();
  });

  it('succeeds on a retry after a failure', async () => {
    const { f, calls } = fakeFetch([500, 204]);
    const gw = new PushGateway({ url: 'http://gw/push', timeoutMs: 100, retries: 3, fetch: f });
    assert.equal(await gw.send(PUSH), true);
    assert.equal(calls.length, 2);
    await gw.close();
  });

  it('drops a push beyond maxInFlight, and sends nothing after close', async () => {
    const { f, calls } = fakeFetch(['hang', 200]);
    const gw = new PushGateway({ url: 'http://gw/push', timeoutMs: 200, retries: 0, maxInFlight: 1, fetch: f });
    const first = gw.send(PUSH);
    assert.equal(await gw.send(PUSH), false, 'the second push is dropped while the first hangs');
    assert.equal(calls.length, 1);
    await gw.close();
    assert.equal(await first, false, 'close aborts the push in flight');
    assert.equal(await gw.send(PUSH), false);
    assert.equal(calls.length, 1);
  });
});
