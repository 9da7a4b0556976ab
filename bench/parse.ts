// Parser throughput: tvphone's parseMessage next to SIP.js 0.21's Parser on the same messages, same run, and two
// same-run references that do not depend on the machine's speed: V8's JSON.parse of the same information (start line,
// header fields, body) written as JSON bytes, and a bare scan of the SIP bytes for CRLFs (the least any parser does).
// Target (issue 17): tvphone ≥ 1.0× JSON.parse.
// Run: npm run bench:parse   (each case is bounded: about BENCH_SECONDS seconds per parser)
import { parseMessage } from '../src/sip/parser.ts';
import { Parser } from 'sip.js/lib/core/messages/parser.js';

const SECONDS = Number(process.argv[2] ?? 1.5);
const ONLY_OURS = process.argv.includes("--ours");

const sdp = [
  'v=0', 'o=alice 2890844526 2890844526 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', '',
].join('\r\n');

const invite = [
  'INVITE sip:bob@tv.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport',
  'Max-Forwards: 70',
  'From: "Alice TV" <sip:alice@tv.example.com>;tag=9fxced76sl',
  'To: <sip:bob@tv.example.com>',
  'Call-ID: 3848276298220188511@192.0.2.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:alice@192.0.2.10:5060;transport=udp>',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, REFER, INFO',
  'Supported: replaces, timer',
  'User-Agent: tvphone-agent/0.1',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(sdp)}`,
  '', sdp,
].join('\r\n');

const register = [
  'REGISTER sip:tv.example.com SIP/2.0',
  'Via: SIP/2.0/TCP 192.0.2.10:50312;branch=z9hG4bKnashds7;rport',
  'Max-Forwards: 70',
  'From: <sip:alice@tv.example.com>;tag=a73kszlfl',
  'To: <sip:alice@tv.example.com>',
  'Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10',
  'CSeq: 2 REGISTER',
  'Contact: <sip:alice@192.0.2.10:50312;transport=tcp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1',
  'Authorization: Digest username="alice", realm="tv.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:tv.example.com", response="dfe56131d1958046689d83306477ecc", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001',
  'Expires: 3600',
  'User-Agent: tvphone-agent/0.1',
  'Content-Length: 0',
  '', '',
].join('\r\n');

const ok = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.20',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.10',
  'Record-Route: <sip:192.0.2.20;lr>',
  'From: "Alice TV" <sip:alice@tv.example.com>;tag=9fxced76sl',
  'To: <sip:bob@tv.example.com>;tag=8321234356',
  'Call-ID: 3848276298220188511@192.0.2.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:bob@192.0.2.30:5060>',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(sdp)}`,
  '', sdp,
].join('\r\n');

const silentLogger = { error() {}, warn() {}, log() {}, debug() {} };

/**
 * Messages per second of CPU time (process.cpuUsage: user + system) of each case, measured in ROUNDS interleaved
 * rounds of about SECONDS / ROUNDS each: a drift of the machine's speed (other load, frequency) hits every case of a
 * round alike, so the ratios are taken round by round and their median is reported. Bounded by wall time.
 */
const ROUNDS = 15;
function measureRounds(fns: Array<() => void>): { rates: number[]; ratios: number[][] } {
  for (const fn of fns) for (let i = 0; i < 20000; i++) fn(); // warm up: let the JIT optimise
  const perRound = SECONDS / ROUNDS;
  const rounds: number[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push(fns.map((fn) => {
      const deadline = process.hrtime.bigint() + BigInt(Math.round(perRound * 1e9));
      const c0 = process.cpuUsage();
      let n = 0;
      for (let batch = 0; batch < 1e6; batch++) {
        for (let i = 0; i < 1000; i++) fn();
        n += 1000;
        if (process.hrtime.bigint() >= deadline) break;
      }
      const c = process.cpuUsage(c0);
      return n / ((c.user + c.system) / 1e6);
    }));
  }
  const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); return a[a.length >> 1]; };
  return {
    rates: fns.map((_, k) => median(rounds.map((r) => r[k]))),
    ratios: fns.map((_, k) => fns.map((__, j) => median(rounds.map((r) => r[k] / r[j])))),
  };
}

/** the same for one case alone (SIP.js, far slower: a few rounds of it would take the whole budget) */
function measure(fn: () => void): number {
  return measureRounds([fn]).rates[0];
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(11);

/** The message's information as JSON bytes: what JSON.parse has to read to learn the same (start line, fields, body). */
function asJsonBytes(text: string): Buffer {
  const end = text.indexOf('\r\n\r\n');
  const [start, ...lines] = text.slice(0, end).split('\r\n');
  const fields = lines.map((l) => { const i = l.indexOf(':'); return [l.slice(0, i), l.slice(i + 1).trim()]; });
  return Buffer.from(JSON.stringify({ start, fields, body: text.slice(end + 4) }), 'utf8');
}

/** every CRLF of the bytes found, nothing else: a floor no parser can go under */
function scanCrlf(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(13); i >= 0 && i < b.length - 1; i = b.indexOf(13, i + 1)) if (b[i + 1] === 10) n++;
  return n;
}

console.log(`parse throughput, ${SECONDS}s per case in ${ROUNDS} interleaved rounds, node ${process.version} (messages per CPU second, medians; ratios: the median of the rounds' ratios)`);
console.log('message        tvphone msg/s   sip.js msg/s  JSON.parse/s   CRLF scan/s   vs sip.js  vs JSON.parse  vs scan');
const ratios: number[] = [];
for (const [name, text] of [['INVITE+SDP', invite], ['REGISTER', register], ['200 OK+SDP', ok]] as const) {
  const bytes = Buffer.from(text, 'utf8');
  const json = asJsonBytes(text);
  if (parseMessage(bytes).headers.length < 5) throw new Error('bench message did not parse');
  let sink = 0;
  const m = measureRounds([
    () => { sink += parseMessage(bytes).headers.length; },
    () => { sink += (JSON.parse(json.toString('utf8')) as { fields: unknown[] }).fields.length; },
    () => { sink += scanCrlf(bytes); },
  ]);
  const [ours, jsonRate, scanRate] = m.rates;
  // SIP.js parses a string (the transport decodes the datagram first), so the decode is counted for it, as for JSON
  const theirs = ONLY_OURS ? null : measure(() => { const msg = Parser.parseMessage(bytes.toString('utf8'), silentLogger as never); if (msg) sink++; });
  ratios.push(m.ratios[0][1]);
  const r = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`).padStart(9);
  console.log(`${name.padEnd(13)} ${fmt(ours)}    ${theirs === null ? '-'.padStart(11) : fmt(theirs)}   ${fmt(jsonRate)}   ${fmt(scanRate)}   ${r(theirs === null ? null : ours / theirs)}  ${r(m.ratios[0][1]).padStart(13)}  ${r(m.ratios[0][2])}${sink < 0 ? '' : ''}`);
}
console.log(`tvphone / JSON.parse (target >= 1.0): ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
