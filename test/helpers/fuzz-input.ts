// Fuzz input for the server: real SIP messages (a request of each kind and a response), mutated by cuts and
// insertions of random bytes and truncated (fast-check arbitraries); shared by the robustness test and `npm run fuzz`.
import fc from 'fast-check';

export const SEEDS = [
  'INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf1;rport\r\nMax-Forwards: 70\r\nFrom: "A" <sip:1001@127.0.0.1>;tag=a1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: f1@x\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n',
  'REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf2\r\nMax-Forwards: 70\r\nFrom: <sip:1003@127.0.0.1>;tag=r1\r\nTo: <sip:1003@127.0.0.1>\r\nCall-ID: f2@x\r\nCSeq: 7 REGISTER\r\nContact: <sip:1003@127.0.0.1:5999>;expires=60;q=0.5, *\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n',
  'MESSAGE sip:1004@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf3\r\nf: <sip:1001@127.0.0.1>;tag=m1\r\nt: <sip:1004@127.0.0.1>\r\ni: f3@x\r\nCSeq: 1 MESSAGE\r\nc: text/plain\r\nRoute: <sip:127.0.0.1;lr>\r\nl: 5\r\n\r\nhello',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf4\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: f4@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
];

export const mutation = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  cuts: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.uint8Array({ maxLength: 8 })), { maxLength: 4 }),
  truncate: fc.option(fc.nat(), { nil: undefined }),
});

export function mutate(m: { seed: number; cuts: Array<[number, number, Uint8Array]>; truncate?: number }): Buffer {
  let b = Buffer.from(SEEDS[m.seed], 'latin1');
  for (const [at, del, ins] of m.cuts) {
    const i = at % (b.length + 1);
    b = Buffer.concat([b.subarray(0, i), Buffer.from(ins), b.subarray(Math.min(b.length, i + del))]);
  }
  if (m.truncate !== undefined) b = b.subarray(0, m.truncate % (b.length + 1));
  return b;
}

