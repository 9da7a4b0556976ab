// Video messages in VP8 (RFC 7741): the media server, in process over real sockets on 127.0.0.1 and a SQLite store,
// answers an offer of PCMU and VP8 with VP8 recvonly, depacketises the caller's frames (ffmpeg's libvpx encode of
// testsrc, packetised by media/vp8-rtp.ts) and keeps them with the audio as Matroska (IVF timestamps → -c copy).
// ffmpeg decodes the kept file: every frame sent, PSNR > 30 dB against testsrc (and not when misaligned).
// The SIP path to the media server (proxy, REGISTER, delivery) is the H.264 test's (video-message.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../../src/clock.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { ToneSource } from '../../../src/media/audio-io.ts';
import { RtpPacketBuilder } from '../../../src/media/rtp-packet.ts';
import { MediaSession } from '../../../src/media/rtp-session.ts';
import { packetizeVp8, readIvf } from '../../../src/media/vp8-rtp.ts';
import { MediaServer } from '../../../src/media-server/media-server.ts';
import { VIDEO_MESSAGE_TYPE } from '../../../src/media-server/message-types.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Store } from '../../../src/store/store.ts';
import type { ServerTransaction } from '../../../src/transaction/server-transaction.ts';
import { framesOf, haveFfmpeg, psnrAgainstTestsrc } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

const FPS = 15;
const haveVp8 = haveFfmpeg && /libvpx/.test(spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '');

function invite(audioPort: number, videoPort: number): SipRequest {
  const sdp = [
    'v=0', 'o=caller 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${audioPort} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv',
    `m=video ${videoPort} RTP/AVP 100`, 'a=rtpmap:100 VP8/90000', 'a=rtcp-fb:100 nack pli', 'a=sendonly', '',
  ].join('\r\n');
  const text = [
    'INVITE sip:1002@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-vp8', 'Max-Forwards: 70',
    'From: <sip:1001@127.0.0.1>;tag=f1', 'To: <sip:1002@127.0.0.1>', 'Call-ID: vp8-message@127.0.0.1', 'CSeq: 1 INVITE',
    'Contact: <sip:1001@127.0.0.1:5999>', 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp,
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('video messages in VP8 (RFC 7741): the media server keeps them as Matroska (integration, ffmpeg)', function () {
  this.timeout(60_000);
  let dir: string;
  let store: Store;
  let server: MediaServer;
  const sockets: dgram.Socket[] = [];
  let audio: MediaSession | null = null;

  before(function () { needPeers(this, haveVp8, 'ffmpeg with libvpx'); });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-vp8-'));
    store = await openStore(`sqlite:${join(dir, 'tv.db')}`, { create: true });
    server = new MediaServer({
      config: { maxSeconds: 20, silenceSeconds: 0, rtpTimeoutSeconds: 10, maxCalls: 2 }, clock: systemClock, log: silentLogger(), store,
      limits: () => ({ quota: { count: 100, bytes: 100 << 20 }, expiryMs: 86_400_000 }),
      mediaAddress: () => '127.0.0.1', contact: () => 'sip:tvphone@127.0.0.1:5060', transport: { send: () => undefined },
      timerValues: { t1: 500, t2: 4000 }, sendInDialog: async () => null, greeting: new Int16Array(160),
    });
  });
  afterEach(async () => {
    await server?.close();
    await audio?.stop();
    audio = null;
    for (const s of sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers VP8 recvonly, keeps every frame sent with the audio; ffmpeg decodes it at PSNR > 30 dB against testsrc', async () => {
    const ivfFile = join(dir, 'sent.ivf');
    const enc = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=${FPS}`, '-t', '3',
      '-pix_fmt', 'yuv420p', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M', '-g', String(FPS), '-auto-alt-ref', '0', '-threads', '1',
      '-f', 'ivf', '-y', ivfFile], { encoding: 'utf8' });
    assert.equal(enc.status, 0, enc.stderr);
    const sent = readIvf(readFileSync(ivfFile)).frames;
    assert.ok(sent.length >= 2 * FPS, `${sent.length} frames encoded`);

    audio = new MediaSession({ localIp: '127.0.0.1' });
    await audio.bind();
    const video = dgram.createSocket('udp4');
    sockets.push(video);
    await new Promise<void>((r) => video.bind(0, '127.0.0.1', () => r()));
    const req = invite(audio.localPort, video.address().port);
    let res: SipResponse | null = null;
    const st = {
      request: req, source: { transport: 'udp', address: '127.0.0.1', port: 5999, connectionId: null, local: { id: 0, transport: 'udp', host: '127.0.0.1', port: 5060 } },
      target: { transport: 'udp', address: '127.0.0.1', port: 5999 },
      respond: (r: SipResponse) => { res = r; return true; },
    } as unknown as ServerTransaction;
    const { outcome } = await server.answer(req, st, { caller: '1001', callee: '1002', callId: req.callId, callRecordId: null });
    const ok = (res as SipResponse | null)!;
    // RFC 3261 §13.3.1.4: the ACK stops the 200's retransmission
    assert.ok(server.ack(parseMessage(Buffer.from([
      'ACK sip:tvphone@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-vp8-ack', 'Max-Forwards: 70', `From: ${req.header('from')}`,
      `To: ${ok.header('to')}`, `Call-ID: ${req.callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', '',
    ].join('\r\n'))) as SipRequest));
    const answer = new TextDecoder().decode(ok.body);
    const m = /m=video (\d+) RTP\/AVP 100\r\n/.exec(answer);
    assert.ok(m && Number(m[1]) > 0, `video accepted: ${answer}`);
    assert.match(answer, /a=rtpmap:100 VP8\/90000/);
    assert.match(answer.slice(answer.indexOf('m=video')), /a=recvonly/);
    const audioPort = Number(/m=audio (\d+)/.exec(answer)![1]);
    audio.start({ remoteIp: '127.0.0.1', remotePort: audioPort, payloadType: 0, source: new ToneSource({ frequency: 440 }) });

    // the frames at 15 fps on their absolute schedule, RFC 7741 packets of at most 1200 bytes, marker on a frame's last
    const builder = new RtpPacketBuilder();
    const t0 = performance.now() + 300; // after the one-frame greeting
    let seq = 1000;
    for (let i = 0; i < sent.length; i++) {
      const wait = t0 + (i * 1000) / FPS - performance.now();
      if (wait > 0) await sleep(wait);
      const parts = packetizeVp8(sent[i].data, 1200, i & 0x7fff);
      parts.forEach((payload, k) => {
        video.send(builder.build({ payloadType: 100, sequenceNumber: seq++, timestamp: 12345 + i * (90_000 / FPS), ssrc: 0xabcdef, marker: k === parts.length - 1, payload }).slice(),
          Number(m[1]), '127.0.0.1');
      });
    }
    await sleep(300);
    await server.close(); // ends the call (BYE) and commits
    const r = await outcome;
    assert.ok(r.messageId !== null, 'kept');
    const vm = (await store.getVoicemail(r.messageId))!;
    assert.equal(vm.contentType, VIDEO_MESSAGE_TYPE);
    assert.equal(vm.codec, 'PCMU+VP8');
    const file = join(dir, 'kept.mkv');
    writeFileSync(file, (await store.voicemailAudio(r.messageId))!);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    assert.deepEqual(probe.stdout.trim().split('\n'), ['vp8', 'pcm_s16le']);
    assert.equal(framesOf(file), sent.length, 'every frame sent is kept');
    const byOffset = [0, 1, 2].map((k) => psnrAgainstTestsrc(file, k));
    const best = Math.max(...byOffset);
    assert.ok(best > 30, `PSNR ${best} dB against testsrc`);
    const far = psnrAgainstTestsrc(file, byOffset.indexOf(best) + 5);
    assert.ok(far < best - 6, `5 frames off gives ${far} dB, aligned ${best} dB`);
    console.log(`      VP8: ${sent.length} frames kept, PSNR ${best.toFixed(1)} dB (offset ${byOffset.indexOf(best)}), 5 off ${far.toFixed(1)} dB, ${vm.bytes} bytes`);
  });
});
