import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { detached } from '../../../src/sip/chars.ts';

describe('sip: detached(), a string that holds nothing it was cut from', () => {
  it('equals its input', () => {
    for (const s of ['', 'a', 'z9hG4bK-12345-1-0\n127.0.0.1:5060\nREGISTER', 'ü€'.repeat(20)]) assert.equal(detached(s), s);
  });

  it('lets the text a kept substring was cut from be collected (a server transaction key, Timer J)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const keep = (copy: (s: string) => string): number => {
      const kept: string[] = [];
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < 500; i++) {
        // a 40 kB message text, and its branch: V8 makes the branch a view of the text
        const text = `REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-${i}-branch\r\n` + 'x'.repeat(40_000) + i;
        const at = text.indexOf('z9hG4bK');
        kept.push(copy(text.slice(at, text.indexOf('\r\n', at)) + '\n192.0.2.1:5060\nREGISTER'));
      }
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      assert.equal(kept.length, 500);
      return grown;
    };
    const viewed = keep((s) => s);
    const copied = keep(detached);
    // 20 MB of texts against some 50 kB of keys; the margins absorb the heap's own noise in a long test run
    assert.ok(viewed > 500 * 40_000 * 0.5, `the views keep the texts (${viewed} B): the test measures what it means to`);
    assert.ok(copied < 500 * 40_000 * 0.1, `detached copies keep ${copied} B for 500 keys, not the 20 MB of texts`);
  });
});
