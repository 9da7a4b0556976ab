// Message framing on stream transports (TCP, TLS).
// RFC 3261 §18.3: on a stream, Content-Length MUST be used to find the end of each message.
// RFC 5626 §3.5.1: between messages, CRLFCRLF is a keep-alive ping (answered with CRLF), a lone CRLF a pong.

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const EMPTY_BUF = Buffer.alloc(0);
/** The longest header block waited for: a peer trickling an endless head is cut off long before maxMessageSize. */
export const MAX_HEAD_BYTES = 32 * 1024;

/** What the framer reports to; an object with methods rather than closures (one per connection). */
export interface FrameSink {
  /** one whole message (start line, headers, body); a view into the received bytes */
  onFrame(message: Buffer): void;
  /** RFC 5626 §3.5.1: a CRLFCRLF ping arrived; the sink answers with CRLF */
  onPing(): void;
  /**
   * The stream cannot be framed any more (missing or bad Content-Length, message too large).
   * `head` is the header block (ending with CRLFCRLF) when it was read, so a 400 can be built from it.
   * The framer ignores everything after this: the connection must be closed.
   */
  onFramingError(reason: string, head: Buffer | null): void;
}

export class StreamFramer {
  readonly maxMessageSize: number;
  private sink: FrameSink;
  private pending: Buffer = EMPTY_BUF;
  /** how far into `pending` the CRLFCRLF search already looked */
  private searched = 0;
  /** while a body is awaited: the chunks after `pending`, joined once the message is complete (no copy per chunk) */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  /** bytes `pending` + `waiting` must reach before framing is worth trying again; 0 = try on every chunk */
  private need = 0;
  failed = false;

  constructor(sink: FrameSink, maxMessageSize: number) {
    this.sink = sink;
    this.maxMessageSize = maxMessageSize;
  }

  /** Bytes currently buffered (for tests and limits). */
  get buffered(): number {
    return this.pending.length + this.waitingBytes;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    if (this.need > 0) {
      // the rest of a known-length message: keep the chunk, join once when all of it is here (linear, not quadratic)
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      if (this.pending.length + this.waitingBytes < this.need) return;
      chunk = Buffer.concat(this.waiting, this.waitingBytes);
      this.waiting = [];
      this.waitingBytes = 0;
      this.need = 0;
    }
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let need = 0;
    let pos = 0;
    let searchFrom = this.searched;
    const end = buf.length;
    while (pos < end) {
      const c = buf[pos];
      if (c === CR || c === LF) {
        // RFC 5626 §3.5.1: CRLFCRLF between messages is a ping, a single CRLF a pong.
        const left = end - pos;
        if (left >= 4 && c === CR && buf[pos + 1] === LF && buf[pos + 2] === CR && buf[pos + 3] === LF) {
          pos += 4;
          this.sink.onPing();
          if (this.failed) return;
          continue;
        }
        if (left < 4 && isPingPrefix(buf, pos, end)) break; // wait: could still become a ping
        pos += c === CR && buf[pos + 1] === LF ? 2 : 1; // a pong, or stray line ends: skip
        continue;
      }
      const from = searchFrom > pos + 3 ? searchFrom - 3 : pos;
      const idx = buf.indexOf('\r\n\r\n', from, 'latin1');
      if (idx < 0) {
        if (end - pos > Math.min(MAX_HEAD_BYTES, this.maxMessageSize)) return this.fail('Message Too Large', null);
        searchFrom = end;
        break;
      }
      const bodyStart = idx + 4;
      const length = contentLength(buf, pos, bodyStart);
      if (length === -1) return this.fail('Missing Content-Length', buf.subarray(pos, bodyStart));
      if (length === -2) return this.fail('Bad Content-Length', buf.subarray(pos, bodyStart));
      const stop = bodyStart + length;
      if (stop - pos > this.maxMessageSize) return this.fail('Message Too Large', buf.subarray(pos, bodyStart));
      if (stop > end) {
        searchFrom = pos; // the header end is re-found quickly from `pos` when more bytes come
        need = stop - pos;
        break;
      }
      this.sink.onFrame(buf.subarray(pos, stop));
      if (this.failed) return;
      pos = stop;
      searchFrom = stop;
    }
    if (pos >= end) {
      this.pending = EMPTY_BUF;
      this.searched = 0;
    } else {
      this.pending = buf.subarray(pos);
      this.searched = searchFrom > pos ? searchFrom - pos : 0;
      this.need = need;
    }
  }

  private fail(reason: string, head: Buffer | null): void {
    this.failed = true;
    this.pending = EMPTY_BUF;
    this.waiting = [];
    this.waitingBytes = 0;
    this.sink.onFramingError(reason, head);
  }
}

/** True if buf[pos..end) is a proper prefix of CRLFCRLF. */
function isPingPrefix(buf: Buffer, pos: number, end: number): boolean {
  for (let i = pos; i < end; i++) if (buf[i] !== ((i - pos) % 2 === 0 ? CR : LF)) return false;
  return true;
}

/**
 * The Content-Length of the header block buf[start..headEnd) (headEnd just past CRLFCRLF), scanning bytes
 * without decoding: -1 when absent, -2 when not a number. Accepts the compact form `l` (RFC 3261 §7.3.3).
 */
export function contentLength(buf: Buffer, start: number, headEnd: number): number {
  // skip the start line
  let i = buf.indexOf(LF, start);
  if (i < 0 || i >= headEnd) return -1;
  i++;
  while (i < headEnd) {
    const c = buf[i] | 0x20;
    let j = -1;
    if (c === 0x6c /* l */) {
      // "l" or "L" then optional whitespace then ':'
      let k = i + 1;
      while (buf[k] === 0x20 || buf[k] === 0x09) k++;
      if (buf[k] === COLON) j = k + 1;
    } else if (c === 0x63 /* c */ && matchesContentLength(buf, i)) {
      let k = i + 14;
      while (buf[k] === 0x20 || buf[k] === 0x09) k++;
      if (buf[k] === COLON) j = k + 1;
    }
    if (j > 0) {
      while (buf[j] === 0x20 || buf[j] === 0x09) j++;
      let n = 0;
      let digits = 0;
      while (j < headEnd) {
        const d = buf[j] - 0x30;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
        if (++digits > 9) return -2;
        j++;
      }
      while (buf[j] === 0x20 || buf[j] === 0x09) j++;
      if (digits === 0 || (buf[j] !== CR && buf[j] !== LF)) return -2;
      return n;
    }
    const nl = buf.indexOf(LF, i);
    if (nl < 0 || nl >= headEnd) return -1;
    i = nl + 1;
  }
  return -1;
}

const CONTENT_LENGTH = 'content-length';
function matchesContentLength(buf: Buffer, i: number): boolean {
  for (let k = 0; k < 14; k++) if ((buf[i + k] | 0x20) !== CONTENT_LENGTH.charCodeAt(k)) return false;
  return true;
}
