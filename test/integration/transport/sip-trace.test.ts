// The SIP trace: at debug one line per message in and out (start line, peer, size); at trace the whole text,
// with Authorization and Proxy-Authorization values redacted.
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log/logger.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

describe('transport: SIP trace in the log', function () {
  this.timeout(10000);
  let ts: TestServer | null = null;
  afterEach(async () => {
    await ts?.close();
    ts = null;
  });

  async function traced(level: 'debug' | 'trace'): Promise<Array<Record<string, unknown>>> {
    const lines: Array<Record<string, unknown>> = [];
    ts = await startTestServer({ auth: 'none', log: createLogger(level, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }) });
    const c = await ts.client();
    const m = c.request({ method: 'OPTIONS', uri: 'sip:127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:127.0.0.1>', headers: [['Proxy-Authorization', 'Digest username="1001", response="0123456789abcdef"']] });
    assert.equal((await c.final(m.callId)).status, 200);
    return lines.filter((l) => l.msg === 'sip');
  }

  it('logs each message in and out at debug with its start line and peer', async () => {
    const sip = await traced('debug');
    const inLine = sip.find((l) => l.dir === 'in');
    const outLine = sip.find((l) => l.dir === 'out');
    assert.match(String(inLine?.head), /^OPTIONS sip:127\.0\.0\.1 SIP\/2\.0$/);
    assert.match(String(outLine?.head), /^SIP\/2\.0 200 /);
    assert.match(String(inLine?.peer), /^udp:127\.0\.0\.1:\d+$/);
    assert.equal(inLine?.mod, 'sip');
    assert.equal(inLine?.text, undefined, 'the whole text only at trace');
  });

  it('logs the whole message at trace, with credentials redacted', async () => {
    const sip = await traced('trace');
    const text = String(sip.find((l) => l.dir === 'in')?.text);
    assert.match(text, /^OPTIONS sip:127\.0\.0\.1 SIP\/2\.0\r\n/);
    assert.match(text, /Proxy-Authorization: \[redacted\]/);
    assert.doesNotMatch(text, /0123456789abcdef/);
  });
});
