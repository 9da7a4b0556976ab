import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sdpTransform from 'sdp-transform';
import { answerDirection, createAnswer, createOffer, LocalMedia, mayWeSend, parseSdp, parseVideo, PCMA, SdpError } from '../../../src/media/sdp.ts';
import { SipError } from '../../../src/errors.ts';
import { replyOf } from '../../../src/replies.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/media/${name}`, import.meta.url), 'utf8');
const local = { ip: '127.0.0.1', port: 40000 };

describe('media/sdp (RFC 3264 offer/answer)', () => {
  it('writes an offer with PCMU 0, PCMA 8, telephone-event/8000 101 with fmtp 0-16, ptime 20 and a direction', () => {
    const text = createOffer({ ...local, sessionId: '42', direction: 'sendrecv' });
    assert.ok(text.endsWith('\r\n'));
    const d = sdpTransform.parse(text);
    assert.equal(d.version, 0);
    assert.equal(String(d.origin.sessionId), '42');
    assert.equal(d.origin.sessionVersion, 1);
    assert.equal(d.connection?.ip, '127.0.0.1');
    const m = d.media[0];
    assert.deepEqual([m.type, m.port, m.protocol, m.payloads], ['audio', 40000, 'RTP/AVP', '0 8 101']);
    assert.deepEqual(m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`), ['0 PCMU/8000', '8 PCMA/8000', '101 telephone-event/8000']);
    assert.deepEqual(m.fmtp, [{ payload: 101, config: '0-16' }]);
    assert.equal(m.ptime, 20);
    assert.equal(m.direction, 'sendrecv');
  });

  it('answers a PCMA-only offer with PCMA and the offer\'s telephone-event payload type and fmtp', () => {
    const a = createAnswer(fixture('offer-carrier-pcma-only.sdp'), local);
    assert.equal(a.codec, 'PCMA');
    assert.equal(a.payloadType, 8);
    assert.equal(a.telephoneEventPayloadType, 101);
    assert.equal(a.direction, 'sendrecv');
    assert.deepEqual([a.remote.ip, a.remote.port, a.remote.rtcpPort], ['203.0.113.5', 30000, 30001]);
    const m = sdpTransform.parse(a.sdp).media[0];
    assert.equal(m.payloads, '8 101');
    assert.deepEqual(m.fmtp, [{ payload: 101, config: '0-15' }]);
  });

  it('answers a many-codec offer (Linphone) with the first codec we support, PCMU, and telephone-event/8000 (PT 100)', () => {
    const a = createAnswer(fixture('offer-linphone.sdp'), local);
    assert.equal(a.codec, 'PCMU');
    assert.equal(a.payloadType, 0);
    assert.equal(a.telephoneEventPayloadType, 100);
    assert.deepEqual(a.remote.payloadTypes, [96, 97, 98, 0, 8, 18, 101, 99, 100]);
    assert.equal(sdpTransform.parse(a.sdp).media[0].payloads, '0 100');
  });

  it('answers PCMA when our side supports only PCMA, even if the offer prefers PCMU', () => {
    const a = createAnswer(fixture('offer-linphone.sdp'), { ...local, codecs: [PCMA] });
    assert.equal(a.codec, 'PCMA');
    assert.equal(a.telephoneEventPayloadType, undefined);
  });

  it('throws a 488 SdpError with Warning 305 when the offer has no common codec (G.729 only)', () => {
    assert.throws(() => createAnswer(fixture('offer-g729-only.sdp'), local), (e: unknown) => {
      assert.ok(e instanceof SdpError && e instanceof SipError);
      assert.equal(e.status, 488);
      assert.equal(e.reason, 'Not Acceptable Here');
      assert.equal(e.code, 'ERR_SDP_NO_COMMON_CODEC');
      assert.match(replyOf(e.failure, e.params, { retryAfterSeconds: 5 }).headers[0][1], /^305 - ".*G729/);
      return true;
    });
  });

  it('throws a 400 SdpError on a body that is not SDP', () => {
    assert.throws(() => parseSdp('hello'), (e: unknown) => e instanceof SdpError && e.status === 400);
    assert.throws(() => parseSdp('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n'), /no c= line/);
  });

  it('answers a sendonly (hold) offer with recvonly, and reports the remote on hold', () => {
    const a = createAnswer(fixture('offer-hold-sendonly.sdp'), local);
    assert.equal(a.remote.direction, 'sendonly');
    assert.equal(a.remote.onHold, true);
    assert.equal(a.direction, 'recvonly');
    assert.equal(sdpTransform.parse(a.sdp).media[0].direction, 'recvonly');
    assert.equal(mayWeSend('recvonly', a.remote), false);
  });

  it('reads a session-level a=inactive and answers inactive', () => {
    const a = createAnswer(fixture('offer-hold-inactive-session-level.sdp'), local);
    assert.equal(a.remote.direction, 'inactive');
    assert.equal(a.direction, 'inactive');
  });

  it('treats c=0.0.0.0 as RFC 2543 legacy hold (RFC 3264 §8.4): we must not send', () => {
    const r = parseSdp(fixture('offer-hold-legacy-c0.sdp'));
    assert.equal(r.legacyHold, true);
    assert.equal(r.onHold, true);
    assert.equal(r.direction, 'sendrecv');
    assert.equal(mayWeSend('sendrecv', r), false);
    const a = createAnswer(fixture('offer-hold-legacy-c0.sdp'), local);
    assert.equal(a.direction, 'recvonly');
  });

  it('takes media-level c= and a=rtcp (RFC 3605), and rejects the video m-line with port 0 in place', () => {
    const a = createAnswer(fixture('offer-audio-video-rtcp.sdp'), local);
    assert.deepEqual([a.remote.ip, a.remote.port, a.remote.rtcpPort, a.remote.mediaIndex], ['192.0.2.11', 49170, 53020, 1]);
    const media = sdpTransform.parse(a.sdp).media;
    assert.deepEqual(media.map((m) => [m.type, m.port]), [['video', 0], ['audio', 40000]]);
  });

  it('computes answer directions per RFC 3264 §6.1', () => {
    assert.equal(answerDirection('sendrecv', 'sendrecv'), 'sendrecv');
    assert.equal(answerDirection('sendonly', 'sendrecv'), 'recvonly');
    assert.equal(answerDirection('recvonly', 'sendrecv'), 'sendonly');
    assert.equal(answerDirection('inactive', 'sendrecv'), 'inactive');
    assert.equal(answerDirection('sendrecv', 'sendonly'), 'sendonly');
    assert.equal(answerDirection('sendonly', 'sendonly'), 'inactive');
  });

  it('increments the o= version for a changed re-offer (hold) and keeps it for an identical one (RFC 3264 §8)', () => {
    const lm = new LocalMedia({ ...local, sessionId: '7' });
    const v = (t: string): number => sdpTransform.parse(t).origin.sessionVersion;
    const first = lm.createOffer();
    assert.equal(v(first), 1);
    assert.equal(v(lm.createOffer()), 1);
    const hold = lm.createOffer('sendonly');
    assert.equal(v(hold), 2);
    assert.equal(sdpTransform.parse(hold).media[0].direction, 'sendonly');
    assert.equal(String(sdpTransform.parse(hold).origin.sessionId), '7');
    assert.equal(v(lm.createOffer('sendrecv')), 3);
  });

  it('reads the answer to our offer: the codec the answerer chose', () => {
    const lm = new LocalMedia(local);
    const offer = lm.createOffer();
    const answer = createAnswer(offer.replace(' 0 8 101', ' 8 101'), { ip: '127.0.0.1', port: 50000 }).sdp;
    const n = lm.acceptAnswer(answer);
    assert.deepEqual([n.codec, n.payloadType, n.telephoneEventPayloadType, n.remote.port], ['PCMA', 8, 101, 50000]);
  });
});

describe('media/sdp: H.264 video (RFC 6184 §8, RFC 3264)', () => {
  const withVideo = { ...local, video: { port: 40002, direction: 'sendrecv' as const } };

  it('offers m=video H.264 profile-level-id=42e01f;packetization-mode=1 then VP8 (RFC 7741 §6.1), each with rtcp-fb nack, nack pli, ccm fir, after the audio', () => {
    const d = sdpTransform.parse(createOffer(withVideo));
    assert.deepEqual(d.media.map((m) => [m.type, m.port]), [['audio', 40000], ['video', 40002]]);
    const v = d.media[1];
    assert.equal(v.payloads, '96 97');
    assert.deepEqual(v.rtp, [{ payload: 96, codec: 'H264', rate: 90000 }, { payload: 97, codec: 'VP8', rate: 90000 }]);
    assert.deepEqual(v.fmtp, [{ payload: 96, config: 'profile-level-id=42e01f;packetization-mode=1' }]);
    assert.deepEqual(v.rtcpFb, [96, 97].flatMap((payload) => [
      { payload, type: 'nack' }, { payload, type: 'nack', subtype: 'pli' }, { payload, type: 'ccm', subtype: 'fir' },
    ]));
    assert.equal(v.bandwidth, undefined, 'no limit asked for: no b= line');
    assert.equal(v.direction, 'sendrecv');
    assert.equal(sdpTransform.parse(createOffer(local)).media.length, 1, 'no video asked for: no m=video');
  });

  it('answers a multi-format offer with its packetization-mode=1 H.264 payload type (not mode 0, not VP8), in the offer\'s m-line order', () => {
    const a = createAnswer(fixture('offer-audio-video-h264.sdp'), withVideo);
    assert.equal(a.video?.payloadType, 98);
    assert.deepEqual([a.video?.remote.ip, a.video?.remote.port, a.video?.remote.rtcpPort, a.video?.remote.pli], ['192.0.2.20', 9078, 9079, true]);
    const media = sdpTransform.parse(a.sdp).media;
    assert.deepEqual(media.map((m) => [m.type, m.port, m.payloads]), [['audio', 40000, '0 101'], ['video', 40002, 98]]);
    assert.equal(media[1].fmtp[0].config, 'profile-level-id=42e01f;packetization-mode=1');
  });

  it('refuses video with port 0 when the agent does not do video, and the audio is answered as before', () => {
    const a = createAnswer(fixture('offer-audio-video-h264.sdp'), local);
    assert.equal(a.video, undefined);
    assert.equal(a.codec, 'PCMU');
    assert.deepEqual(sdpTransform.parse(a.sdp).media.map((m) => [m.type, m.port]), [['audio', 40000], ['video', 0]]);
  });

  it('refuses video with port 0 when no offered format is usable (VP8 to an H.264-only agent, H.264 High profile); the audio goes on', () => {
    const a = createAnswer(fixture('offer-video-vp8-or-high-only.sdp'), { ...local, video: { ...withVideo.video, codecs: ['H264'] } });
    assert.equal(a.video, undefined);
    assert.equal(a.codec, 'PCMU');
    assert.deepEqual(sdpTransform.parse(a.sdp).media.map((m) => [m.type, m.port]), [['audio', 40000], ['video', 0]]);
  });

  it('§8.1 profile-level-id: Baseline or constraint_set1 (Constrained Baseline compatible) is accepted', async () => {
    const { isConstrainedBaselineCompatible } = await import('../../../src/media/sdp.ts');
    assert.equal(isConstrainedBaselineCompatible('42e01f'), true);
    assert.equal(isConstrainedBaselineCompatible('42001f'), true);
    assert.equal(isConstrainedBaselineCompatible('4d401f'), true);
    assert.equal(isConstrainedBaselineCompatible('640028'), false);
    assert.equal(isConstrainedBaselineCompatible('zz'), false);
  });

  it('§8.2.2: the answer\'s profile-level-id is our Constrained Baseline at the lower of our level 3.1 and the offer\'s (level 1b keeps constraint_set3)', async () => {
    const { h264AnswerFmtp } = await import('../../../src/media/sdp.ts');
    assert.equal(h264AnswerFmtp('42e01f'), 'profile-level-id=42e01f;packetization-mode=1');
    assert.equal(h264AnswerFmtp('640028'), 'profile-level-id=42e01f;packetization-mode=1', 'a higher level: ours');
    assert.equal(h264AnswerFmtp('42800d'), 'profile-level-id=42e00d;packetization-mode=1');
    assert.equal(h264AnswerFmtp('42f00b'), 'profile-level-id=42f00b;packetization-mode=1', 'level 1b');
    assert.equal(h264AnswerFmtp('42e00b'), 'profile-level-id=42e00b;packetization-mode=1', 'level 1.1');
    assert.equal(h264AnswerFmtp('nonsense'), 'profile-level-id=42e01f;packetization-mode=1');
  });

  it('reads an answer with video, and one that refuses it (port 0): audio only', () => {
    const offerer = new LocalMedia(withVideo);
    const answerer = new LocalMedia({ ip: '127.0.0.1', port: 50000, video: { port: 50002, direction: 'recvonly' } });
    const offer = offerer.createOffer();
    const ans = answerer.createAnswer(offer);
    assert.equal(ans.video?.direction, 'recvonly');
    const got = offerer.acceptAnswer(ans.sdp);
    assert.equal(got.video?.remote.port, 50002);
    assert.equal(got.video?.remote.direction, 'recvonly');
    const refused = offerer.acceptAnswer(createAnswer(offer, { ip: '127.0.0.1', port: 50000 }).sdp);
    assert.equal(refused.video, undefined);
    assert.equal(refused.codec, 'PCMU');
  });

  it('on hold (audio sendonly) the offer\'s video is sendonly too', () => {
    const m = new LocalMedia(withVideo);
    const media = sdpTransform.parse(m.createOffer('sendonly')).media;
    assert.deepEqual(media.map((x) => x.direction), ['sendonly', 'sendonly']);
  });

  it('answers VP8 when it is the only usable format (H.264 High only beside it), with no fmtp and the feedback the offer listed (none)', () => {
    const a = createAnswer(fixture('offer-video-vp8-or-high-only.sdp'), withVideo);
    assert.deepEqual([a.video?.remote.codec, a.video?.payloadType, a.video?.remote.profileLevelId], ['VP8', 100, undefined]);
    assert.deepEqual(a.video?.remote.feedback, { nack: false, pli: false, fir: false });
    const v = sdpTransform.parse(a.sdp).media[1];
    assert.deepEqual([v.port, v.payloads, v.rtp, v.fmtp, v.rtcpFb ?? []], [40002, 100, [{ payload: 100, codec: 'VP8', rate: 90000 }], [], []]);
  });

  it('prefers H.264 over an earlier VP8 (the TV decodes H.264 in hardware), VP8 when the agent prefers it', () => {
    assert.equal(createAnswer(fixture('offer-audio-video-h264.sdp'), withVideo).video?.remote.codec, 'H264');
    const vp8First = createAnswer(fixture('offer-audio-video-h264.sdp'), { ...local, video: { ...withVideo.video, codecs: ['VP8', 'H264'] } });
    assert.deepEqual([vp8First.video?.remote.codec, vp8First.video?.payloadType], ['VP8', 96]);
  });

  it('RFC 4585 §4.2: reads rtcp-fb for the chosen format and *, and answers only the feedback offered (nack pli, ccm fir: no generic nack)', () => {
    const a = createAnswer(fixture('offer-audio-video-h264.sdp'), withVideo);
    assert.deepEqual(a.video?.remote.feedback, { nack: false, pli: true, fir: true });
    const v = sdpTransform.parse(a.sdp).media[1];
    assert.deepEqual(v.rtcpFb, [{ payload: 98, type: 'nack', subtype: 'pli' }, { payload: 98, type: 'ccm', subtype: 'fir' }]);
    const ours = new LocalMedia(withVideo);
    const back = new LocalMedia({ ip: '127.0.0.1', port: 50000, video: { port: 50002, direction: 'sendrecv' } }).createAnswer(ours.createOffer());
    assert.deepEqual(back.video?.remote.feedback, { nack: true, pli: true, fir: true });
    assert.deepEqual(ours.acceptAnswer(back.sdp).video?.remote.feedback, { nack: true, pli: true, fir: true });
  });

  it('RFC 3890 / RFC 4566 §5.8: offers its limit as b=AS (kbit/s) and b=TIAS (bit/s); reads TIAS before AS, media level before session level', () => {
    const offer = createOffer({ ...local, video: { ...withVideo.video, bandwidthKbps: 384 } });
    const v = sdpTransform.parse(offer).media[1];
    assert.deepEqual(v.bandwidth, [{ type: 'AS', limit: 384 }, { type: 'TIAS', limit: 384000 }]);
    assert.equal(parseVideo(offer)?.bandwidthKbps, 384);
    const base = fixture('offer-audio-video-h264.sdp');
    const withAs = base.replace('m=video 9078 RTP/AVP 96 97 98\r\n', 'm=video 9078 RTP/AVP 96 97 98\r\nb=AS:256\r\n');
    assert.notEqual(withAs, base);
    assert.equal(parseVideo(withAs)?.bandwidthKbps, 256);
    const withTias = withAs.replace('b=AS:256\r\n', 'b=AS:256\r\nb=TIAS:200000\r\n');
    assert.equal(parseVideo(withTias)?.bandwidthKbps, 200);
    const sessionLevel = base.replace('t=0 0\r\n', 't=0 0\r\n').replace('c=IN IP4 192.0.2.20\r\n', 'c=IN IP4 192.0.2.20\r\nb=AS:1000\r\n');
    assert.equal(parseVideo(sessionLevel)?.bandwidthKbps, 1000);
    assert.equal(parseVideo(withAs.replace('b=AS:256', 'b=AS:0'))?.bandwidthKbps, undefined, 'b=AS:0 is no limit we can keep to');
    assert.equal(parseVideo(base)?.bandwidthKbps, undefined);
  });

  it('the camera turned off: the next offer says recvonly on the video (a new o= version), on again sendrecv; the answerer follows', () => {
    const m = new LocalMedia(withVideo);
    const first = m.createOffer();
    m.setVideoDirection('recvonly');
    const off = m.createOffer();
    assert.deepEqual(sdpTransform.parse(off).media.map((x) => x.direction), ['sendrecv', 'recvonly']);
    assert.equal(sdpTransform.parse(off).origin?.sessionVersion, Number(sdpTransform.parse(first).origin?.sessionVersion) + 1);
    const peer = new LocalMedia({ ip: '127.0.0.1', port: 50000, video: { port: 50002, direction: 'sendrecv' } });
    assert.equal(peer.createAnswer(off).video?.direction, 'sendonly');
    m.setVideoDirection('sendrecv');
    assert.deepEqual(sdpTransform.parse(m.createOffer()).media.map((x) => x.direction), ['sendrecv', 'sendrecv']);
    // a=inactive on the video: neither sends, the audio goes on
    m.setVideoDirection('inactive');
    const a = peer.createAnswer(m.createOffer());
    assert.deepEqual([a.direction, a.video?.direction], ['sendrecv', 'inactive']);
  });
});

describe('media/sdp: adding and removing the video stream (RFC 3264 §8.1, §8.2)', () => {
  const lines = (sdp: string): Array<[string, number]> => sdpTransform.parse(sdp).media.map((m) => [m.type, m.port]);
  const version = (sdp: string): number => Number(sdpTransform.parse(sdp).origin?.sessionVersion);
  /** a TV that can do video but has no video stream now (port 0: no port pair bound) */
  const videoCapable = (port: number) => ({ ip: '127.0.0.1', port, video: { port: 0, direction: 'sendrecv' as const } });

  it('§8.1: a re-offer adds m=video after the audio of an audio-only call; the answerer that can do video takes it; §8.2: removed, the slot stays at port 0; added again in the same slot', () => {
    const a = new LocalMedia(videoCapable(40000));
    const b = new LocalMedia(videoCapable(50000));
    const first = a.createOffer();
    assert.deepEqual(lines(first), [['audio', 40000]], 'no video stream: no m=video at all');
    const firstAnswer = b.createAnswer(first);
    assert.deepEqual(lines(firstAnswer.sdp), [['audio', 50000]]);
    assert.equal(a.acceptAnswer(firstAnswer.sdp).video, undefined);
    // B adds video (key v): its offer appends the m-line, with a new o= version
    b.enableVideo(50002, 'sendrecv');
    const add = b.createOffer();
    assert.deepEqual(lines(add), [['audio', 50000], ['video', 50002]]);
    assert.equal(version(add), version(firstAnswer.sdp) + 1);
    // A, with no port pair yet, would refuse it; with one bound, it answers video in the same slot
    assert.deepEqual(lines(new LocalMedia(videoCapable(40000)).createAnswer(add).sdp), [['audio', 40000], ['video', 0]]);
    a.enableVideo(40002, 'sendrecv');
    const added = a.createAnswer(add);
    assert.deepEqual(lines(added.sdp), [['audio', 40000], ['video', 40002]]);
    assert.deepEqual([added.video?.remote.port, added.video?.direction], [50002, 'sendrecv']);
    assert.equal(b.acceptAnswer(added.sdp).video?.remote.port, 40002);
    // B removes it: the m-line stays, port 0 (§8.2); A answers port 0 and has no video
    b.rejectVideo();
    const remove = b.createOffer();
    assert.deepEqual(lines(remove), [['audio', 50000], ['video', 0]]);
    a.rejectVideo();
    const removed = a.createAnswer(remove);
    assert.equal(removed.video, undefined);
    assert.deepEqual(lines(removed.sdp), [['audio', 40000], ['video', 0]]);
    assert.equal(b.acceptAnswer(removed.sdp).video, undefined);
    // a later offer of A (a session refresh) keeps the disabled line in place, not dropped, not moved
    assert.deepEqual(lines(a.createOffer()), [['audio', 40000], ['video', 0]]);
    assert.equal(b.acceptAnswer(b.createAnswer(a.createOffer()).sdp).video, undefined);
    // A adds it again: the same slot, a new port pair; B answers video again
    a.enableVideo(40004, 'sendrecv');
    const again = a.createOffer();
    assert.deepEqual(lines(again), [['audio', 40000], ['video', 40004]]);
    b.enableVideo(50004, 'recvonly');
    const back = b.createAnswer(again);
    assert.deepEqual(lines(back.sdp), [['audio', 50000], ['video', 50004]]);
    assert.deepEqual([back.video?.direction, a.acceptAnswer(back.sdp).video?.remote.direction], ['recvonly', 'recvonly']);
  });

  it('§8: re-offers keep every m-line of the session in its order (a refused m=application at port 0); §8.1: new video reuses a disabled video slot, else another disabled slot', () => {
    const offer = [
      'v=0', 'o=peer 1 1 IN IP4 192.0.2.20', 's=-', 'c=IN IP4 192.0.2.20', 't=0 0',
      'm=application 9000 UDP/BFCP *', 'm=audio 9076 RTP/AVP 0', 'm=video 9078 RTP/AVP 96', 'a=rtpmap:96 H264/90000',
      'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1', '',
    ].join('\r\n');
    const b = new LocalMedia(videoCapable(50000));
    const ans = b.createAnswer(offer);
    assert.deepEqual(lines(ans.sdp), [['application', 0], ['audio', 50000], ['video', 0]]);
    assert.deepEqual(lines(b.createOffer()), [['application', 0], ['audio', 50000], ['video', 0]], 'a re-offer keeps the refused lines in place');
    b.enableVideo(50002, 'sendrecv');
    assert.deepEqual(lines(b.createOffer()), [['application', 0], ['audio', 50000], ['video', 50002]], 'video goes into the disabled video slot');
    // no video slot, but a disabled one of another kind: the new video takes it (§8.1 "reusing the slot")
    const noVideo = offer.replace(/m=video[\s\S]*$/, '');
    const c = new LocalMedia(videoCapable(50000));
    assert.deepEqual(lines(c.createAnswer(noVideo).sdp), [['application', 0], ['audio', 50000]]);
    c.enableVideo(50002, 'sendrecv');
    assert.deepEqual(lines(c.createOffer()), [['video', 50002], ['audio', 50000]]);
  });

  it('an offer that was refused (488, no answer read) leaves the session as it was: the next offer has no video line it added', () => {
    const a = new LocalMedia(videoCapable(40000));
    a.acceptAnswer(createAnswer(a.createOffer(), local).sdp);
    a.enableVideo(40002, 'sendrecv');
    assert.deepEqual(lines(a.createOffer()), [['audio', 40000], ['video', 40002]]);
    a.rejectVideo(); // the re-INVITE got 488: the video is given up
    assert.deepEqual(lines(a.createOffer()), [['audio', 40000]]);
  });
});

// Offers captured on loopback from the phones themselves (Debian 12 packages), calling a UDP listener:
// linphonec 5.1.65 with -C and the StaticImage camera; baresip 1.0.0 with the fakevideo and vp8 modules.
describe('media/sdp: video offers of real phones', () => {
  const tv = { ...local, video: { port: 40002, direction: 'sendrecv' as const } };

  it('linphonec 5.1: VP8 96 with nack pli, nack sli, ack rpsi, ccm fir and * tmmbr/trr-int: answered VP8 with pli and fir only, PCMU for the voice', () => {
    const offer = fixture('offer-linphonec-5.1-video.sdp');
    assert.match(offer, /\r\nm=video 39078 RTP\/AVP 96\r\n/);
    const v = parseVideo(offer);
    assert.deepEqual([v?.codec, v?.payloadType, v?.ip, v?.port, v?.rtcpPort, v?.direction, v?.bandwidthKbps], ['VP8', 96, '127.0.0.1', 39078, 39079, 'sendrecv', undefined]);
    assert.deepEqual(v?.feedback, { nack: false, pli: true, fir: true }, 'nack sli is not generic NACK');
    const a = createAnswer(offer, tv);
    assert.deepEqual([a.codec, a.payloadType, a.telephoneEventPayloadType], ['PCMU', 0, 101]);
    const media = sdpTransform.parse(a.sdp).media;
    assert.deepEqual(media.map((m) => [m.type, m.port, String(m.payloads)]), [['audio', 40000, '0 101'], ['video', 40002, '96']]);
    assert.deepEqual(media[1].rtp, [{ payload: 96, codec: 'VP8', rate: 90000 }]);
    assert.deepEqual(media[1].rtcpFb, [{ payload: 96, type: 'nack', subtype: 'pli' }, { payload: 96, type: 'ccm', subtype: 'fir' }]);
    assert.equal(createAnswer(offer, { ...local, video: { ...tv.video, codecs: ['H264'] } }).video, undefined, 'an H.264-only TV refuses its VP8');
  });

  it('baresip 1.0: VP8 96 with fmtp max-fs=3600, a=rtcp-fb:* nack pli, a=rtcp-rsize, ssrc and framerate lines: answered VP8, PLI taken from the wildcard', () => {
    const offer = fixture('offer-baresip-1.0-video.sdp');
    const v = parseVideo(offer);
    assert.deepEqual([v?.codec, v?.payloadType, v?.port, v?.direction], ['VP8', 96, 37142, 'sendrecv']);
    assert.deepEqual(v?.feedback, { nack: false, pli: true, fir: false });
    const a = createAnswer(offer, tv);
    assert.deepEqual([a.codec, a.telephoneEventPayloadType, a.video?.payloadType], ['PCMU', 101, 96]);
    const video = sdpTransform.parse(a.sdp).media[1];
    assert.deepEqual([video.port, video.direction, video.rtcpFb], [40002, 'sendrecv', [{ payload: 96, type: 'nack', subtype: 'pli' }]]);
    // our offer read back as baresip would: H.264 first, then VP8; its answer would choose VP8
    const ours = createOffer(tv);
    assert.deepEqual(parseVideo(ours, ['VP8'])?.payloadType, 97);
  });

  // A hardware phone: the INVITE of a Cisco CP-8865 (firmware 14.4.1, camera shutter closed: video recvonly), from the
  // Asterisk log in https://github.com/usecallmanagernz/patches/issues/39. The session and video lines are as logged;
  // of the audio section the public log shows only the lines kept here (the rtpmaps of 124, 113, 115, 116 are cut).
  it('Cisco CP-8865: H.264 High 100, Baseline 126 (mode 1) and 97 (mode 0) with max-fs/max-mbps, imageattr, * feedback, b=TIAS 4 Mbit/s, recvonly: answered 126 sendonly at its level', () => {
    const offer = fixture('offer-cisco-cp8865-14.4-video.sdp');
    assert.match(offer, /\r\nm=video 17766 RTP\/AVP 100 126 97\r\n/);
    const v = parseVideo(offer);
    assert.deepEqual([v?.codec, v?.payloadType, v?.profileLevelId, v?.ip, v?.port, v?.direction, v?.bandwidthKbps], ['H264', 126, '428016', '192.168.5.22', 17766, 'recvonly', 4000],
      'not High profile 100 (we send Constrained Baseline), not mode 0 97 (we send FU-A); TIAS at media level before the session\'s b=AS');
    assert.deepEqual(v?.feedback, { nack: false, pli: true, fir: true }, 'from the * lines; ccm tmmbr is not ours');
    const a = createAnswer(offer, tv);
    assert.deepEqual([a.codec, a.payloadType, a.telephoneEventPayloadType], ['PCMU', 0, 101], 'G.722, Opus and the cut dynamic types skipped');
    const media = sdpTransform.parse(a.sdp).media;
    assert.deepEqual(media.map((m) => [m.type, m.port, String(m.payloads), m.direction]), [['audio', 40000, '0 101', 'sendrecv'], ['video', 40002, '126', 'sendonly']]);
    // RFC 6184 §8.2.2: no level-asymmetry-allowed in our answer, so our level is not above the offer's (2.2 = 0x16)
    assert.deepEqual(media[1].fmtp, [{ payload: 126, config: 'profile-level-id=42e016;packetization-mode=1' }]);
    assert.deepEqual(media[1].rtcpFb, [{ payload: 126, type: 'nack', subtype: 'pli' }, { payload: 126, type: 'ccm', subtype: 'fir' }]);
  });
});
