import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_HEAD_BYTES, StreamFramer, contentLength, type FrameSink } from '../../../src/transport/stream-framer.ts';

class Sink implements FrameSink {
  frames: string[] = [];
  pings = 0;
  errors: { reason: string; head: string | null }[] = [];
  onFrame(m: Buffer): void {
    this.frames.push(m.toString('latin1'));
  }
  onPing(): void {
    this.pings++;
  }
  onFramingError(reason: string, head: Buffer | null): void {
    this.errors.push({ reason, head: head ? head.toString('latin1') : null });
  }
}

function msg(body: string, extra = ''): string {
  return `OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function framer(max = 65535): { f: StreamFramer; s: Sink } {
  const s = new Sink();
  return { f: new StreamFramer(s, max), s };
}

describe('transport/stream-framer', () => {
  it('frames two messages that arrive in one chunk by Content-Length (RFC 3261 §18.3)', () => {
    const { f, s } = framer();
    const a = msg('hello');
    const b = msg('');
    f.push(Buffer.from(a + b));
    assert.deepEqual(s.frames, [a, b]);
    assert.equal(f.buffered, 0);
  });

  it('frames one message split over many chunks, including inside the header terminator', () => {
    const { f, s } = framer();
    const a = msg('v=0\r\nbody');
    for (let i = 0; i < a.length; i++) f.push(Buffer.from(a[i], 'latin1'));
    assert.deepEqual(s.frames, [a]);
  });

  it('frames any split of a sequence of messages identically (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const msgs = bodies.map((b) => msg(b.replace(/[^\x20-\x7e]/g, 'x')));
          const all = Buffer.from(msgs.join(''), 'latin1');
          const { f, s } = framer();
          let pos = 0;
          let k = 0;
          while (pos < all.length) {
            const n = cuts[k++ % cuts.length];
            f.push(all.subarray(pos, pos + n));
            pos += n;
          }
          assert.deepEqual(s.frames, msgs);
          assert.equal(s.errors.length, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports a CRLFCRLF keep-alive ping between messages (RFC 5626 §3.5.1)', () => {
    const { f, s } = framer();
    const a = msg('');
    f.push(Buffer.from('\r\n\r\n' + a + '\r\n\r\n'));
    assert.equal(s.pings, 2);
    assert.deepEqual(s.frames, [a]);
  });

  it('reports a ping split over two chunks once', () => {
    const { f, s } = framer();
    f.push(Buffer.from('\r\n'));
    assert.equal(s.pings, 0);
    f.push(Buffer.from('\r\n'));
    assert.equal(s.pings, 1);
  });

  it('skips a single CRLF pong before a message', () => {
    const { f, s } = framer();
    const a = msg('x');
    f.push(Buffer.from('\r\n' + a));
    assert.equal(s.pings, 0);
    assert.deepEqual(s.frames, [a]);
  });

  it('fails a stream message without Content-Length, handing back the header block (RFC 3261 §18.3)', () => {
    const { f, s } = framer();
    const head = 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n';
    f.push(Buffer.from(head + 'trailing'));
    assert.deepEqual(s.errors, [{ reason: 'Missing Content-Length', head }]);
    f.push(Buffer.from(msg('')));
    assert.equal(s.frames.length, 0, 'nothing is framed after a failure');
  });

  it('fails a non-numeric Content-Length', () => {
    const { f, s } = framer();
    f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n'));
    assert.equal(s.errors[0].reason, 'Bad Content-Length');
  });

  it('fails a message larger than the maximum size', () => {
    const { f, s } = framer(100);
    f.push(Buffer.from(msg('x'.repeat(200))));
    assert.equal(s.errors[0].reason, 'Message Too Large');
  });

  it('fails an endless header block larger than the maximum size', () => {
    const { f, s } = framer(100);
    f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n' + 'X: y\r\n'.repeat(30)));
    assert.equal(s.errors[0].reason, 'Message Too Large');
    assert.equal(s.errors[0].head, null);
  });

  it('reads the compact form l: and any case of Content-Length', () => {
    const h = (s: string) => Buffer.from(`INVITE sip:x SIP/2.0\r\n${s}\r\n\r\n`);
    for (const [line, n] of [['l: 12', 12], ['L:3', 3], ['content-LENGTH :  42 ', 42], ['Content-Type: a/b\r\nContent-Length: 0', 0]] as const) {
      const b = h(line);
      assert.equal(contentLength(b, 0, b.length), n, line);
    }
    const b = h('Location: x');
    assert.equal(contentLength(b, 0, b.length), -1);
  });

  it(`gives up on a header block that does not end within ${MAX_HEAD_BYTES} bytes (slow or endless heads), long before maxMessageSize`, () => {
    const { f, s } = framer(2 << 20);
    const line = 'X-Filler: ' + 'a'.repeat(1000) + '\r\n';
    f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n'));
    for (let i = 0; i < 40 && s.errors.length === 0; i++) f.push(Buffer.from(line));
    assert.deepEqual(s.errors, [{ reason: 'Message Too Large', head: null }]);
    assert.ok(f.buffered <= MAX_HEAD_BYTES + 1100, `buffered ${f.buffered}`);
  });

  it('frames a 1 MB body that arrives in 1,000 small chunks as one message, and counts what it holds meanwhile', () => {
    const { f, s } = framer(2 << 20);
    const body = 'b'.repeat(1 << 20);
    const whole = Buffer.from(msg(body));
    const step = Math.ceil(whole.length / 1000);
    for (let at = 0; at < whole.length; at += step) {
      f.push(whole.subarray(at, at + step));
      if (at + step < whole.length) assert.equal(f.buffered, at + step, 'everything so far is held');
    }
    assert.equal(s.frames.length, 1);
    assert.equal(s.frames[0], whole.toString('latin1'));
    assert.equal(f.buffered, 0);
  });
});
