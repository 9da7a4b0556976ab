// RTCP compound packets (RFC 3550 §6): SR/RR with reception report blocks, SDES CNAME, BYE, and the feedback
// messages of RFC 4585 (§6.2.1 Generic NACK, §6.3.1 Picture Loss Indication) and RFC 5104 (§4.3.1 Full Intra
// Request); built and parsed with rtp.js (FIR, which it lacks, as a generic PSFB body). NTP time helpers for
// LSR/DLSR and round-trip time (§6.4.1).
import { packets } from 'rtp.js';

/** RFC 3550 §6.4.1 report block (one per source heard). */
export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  extendedHighestSeq: number;
  /** timestamp units */
  jitter: number;
  /** middle 32 bits of the NTP timestamp of the last SR from this source, 0 if none */
  lsr: number;
  /** delay since that SR, in 1/65536 s */
  dlsr: number;
}

export interface SenderInfo {
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export type RtcpItem =
  | ({ kind: 'sr'; ssrc: number; reports: ReportBlock[] } & SenderInfo)
  | { kind: 'rr'; ssrc: number; reports: ReportBlock[] }
  | { kind: 'sdes'; chunks: Array<{ ssrc: number; cname?: string }> }
  | { kind: 'bye'; ssrcs: number[]; reason?: string }
  /** RFC 4585 §6.3.1: the sender of `senderSsrc` lost pictures of `mediaSsrc`'s stream and wants a keyframe */
  | { kind: 'pli'; senderSsrc: number; mediaSsrc: number }
  /** RFC 4585 §6.2.1: the sender of `senderSsrc` did not receive these sequence numbers of `mediaSsrc`'s stream */
  | { kind: 'nack'; senderSsrc: number; mediaSsrc: number; sequenceNumbers: number[] }
  /** RFC 5104 §4.3.1: the sender of `senderSsrc` asks `mediaSsrc` (from the FCI entry) for a decoder refresh point; `seq` tells repeats apart */
  | { kind: 'fir'; senderSsrc: number; mediaSsrc: number; seq: number }
  | { kind: 'other'; packetType: number };

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2208988800;

/** NTP timestamp of a Unix time in ms. */
export function ntpFromUnixMs(ms: number): { seconds: number; fraction: number } {
  const s = Math.floor(ms / 1000);
  return { seconds: (s + NTP_UNIX_OFFSET) >>> 0, fraction: Math.floor(((ms - s * 1000) / 1000) * 2 ** 32) >>> 0 };
}

/** Unix time in ms of an NTP timestamp (RFC 3550 §4: seconds since 1900 and a 32-bit fraction). */
export function unixMsFromNtp(seconds: number, fraction: number): number {
  return ((seconds >>> 0) - NTP_UNIX_OFFSET) * 1000 + ((fraction >>> 0) / 2 ** 32) * 1000;
}

/** The middle 32 bits of an NTP timestamp (§6.4.1 LSR; also the unit of A in the RTT formula). */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/**
 * RFC 3550 §6.4.1: RTT = A − LSR − DLSR, all in 1/65536 s, where A is the middle 32 bits of the NTP
 * time the report arrived. Returns ms, or undefined when no SR had been received (LSR = 0).
 */
export function roundTripMs(arrivalMiddle32: number, lsr: number, dlsr: number): number | undefined {
  if (lsr === 0) return undefined;
  const rtt = (arrivalMiddle32 - lsr - dlsr) >>> 0;
  if (rtt > 0x80000000) return 0; // clock granularity can make it slightly negative
  return (rtt * 1000) / 65536;
}

// rtp.js 0.15.5's ReceptionReport.getTotalLost masks 12 bits instead of 24 and uses sign-magnitude;
// RFC 3550 §6.4.1's "cumulative number of packets lost" is a signed 24-bit integer (two's complement),
// so we read and write those three bytes ourselves.
function writeCumulativeLost(r: packets.ReceptionReport, lost: number): void {
  const v = r.getView();
  const clamped = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(lost)));
  const u = clamped & 0xffffff;
  v.setUint8(5, u >> 16);
  v.setUint8(6, (u >> 8) & 0xff);
  v.setUint8(7, u & 0xff);
}

function readCumulativeLost(r: packets.ReceptionReport): number {
  const v = r.getView();
  const u = (v.getUint8(5) << 16) | (v.getUint8(6) << 8) | v.getUint8(7);
  return u & 0x800000 ? u - 0x1000000 : u;
}

function toReceptionReport(b: ReportBlock): packets.ReceptionReport {
  const r = new packets.ReceptionReport();
  r.setSsrc(b.ssrc >>> 0);
  r.setFractionLost(Math.max(0, Math.min(255, b.fractionLost)));
  r.setHighestSeqNumber(b.extendedHighestSeq >>> 0);
  r.setJitter(Math.max(0, Math.floor(b.jitter)) >>> 0);
  r.setLastSRTimestamp(b.lsr >>> 0);
  r.setDelaySinceLastSR(b.dlsr >>> 0);
  writeCumulativeLost(r, b.cumulativeLost);
  return r;
}

function fromReceptionReport(r: packets.ReceptionReport): ReportBlock {
  return {
    ssrc: r.getSsrc(), fractionLost: r.getFractionLost(), cumulativeLost: readCumulativeLost(r),
    extendedHighestSeq: r.getHighestSeqNumber(), jitter: r.getJitter(), lsr: r.getLastSRTimestamp(), dlsr: r.getDelaySinceLastSR(),
  };
}

export interface CompoundOptions {
  ssrc: number;
  /** present: an SR (we sent RTP since the last report); absent: an RR */
  sender?: SenderInfo;
  reports: ReportBlock[];
  /** §6.5.1: CNAME is mandatory in every compound packet */
  cname: string;
  /** append a BYE (§6.6) */
  bye?: { reason?: string };
  /** append a PLI about this media source (RFC 4585 §3.1: feedback goes in a compound packet after SR/RR and SDES) */
  pli?: { mediaSsrc: number };
  /** append a Generic NACK for these sequence numbers of this media source (RFC 4585 §6.2.1) */
  nack?: { mediaSsrc: number; sequenceNumbers: readonly number[] };
  /** append a FIR (RFC 5104 §4.3.1) for this media source, with its command sequence number */
  fir?: { mediaSsrc: number; seq: number };
}

/** RFC 4585 §6.1: PSFB is RTCP packet type 206; RFC 5104 §4.3.1.1: FIR is its FMT 4. */
const PT_PSFB = 206;
const FMT_FIR = 4 as packets.PsFeedbackMessageType;

/**
 * RFC 4585 §6.2.1: each FCI entry is a PID (the first lost packet) and a BLP, bit i set when PID + i + 1 is lost
 * too; a run of sequence numbers within 17 of each other shares one entry.
 */
export function nackItems(sequenceNumbers: readonly number[]): Array<{ pid: number; bitmask: number }> {
  const items: Array<{ pid: number; bitmask: number }> = [];
  for (const s of sequenceNumbers) {
    const last = items.at(-1);
    const d = last ? (s - last.pid) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last.bitmask |= 1 << (d - 1);
    else if (!last || d !== 0) items.push({ pid: s & 0xffff, bitmask: 0 });
  }
  return items;
}

/** The sequence numbers an RFC 4585 §6.2.1 FCI entry names. */
export function nackSequenceNumbers(pid: number, bitmask: number): number[] {
  const out = [pid & 0xffff];
  for (let i = 0; i < 16; i++) if (bitmask & (1 << i)) out.push((pid + i + 1) & 0xffff);
  return out;
}

/** §6.1: a compound packet starts with SR or RR, then SDES with CNAME, then (optionally) BYE. */
export function buildRtcpCompound(o: CompoundOptions): Uint8Array {
  const compound = new packets.CompoundPacket();
  const blocks = o.reports.slice(0, 31).map(toReceptionReport); // RC is 5 bits
  if (o.sender) {
    const sr = new packets.SenderReportPacket();
    sr.setSsrc(o.ssrc >>> 0);
    sr.setNtpSeconds(o.sender.ntpSeconds >>> 0);
    sr.setNtpFraction(o.sender.ntpFraction >>> 0);
    sr.setRtpTimestamp(o.sender.rtpTimestamp >>> 0);
    sr.setPacketCount(o.sender.packetCount >>> 0);
    sr.setOctetCount(o.sender.octetCount >>> 0);
    sr.setReports(blocks);
    compound.addPacket(sr);
  } else {
    const rr = new packets.ReceiverReportPacket();
    rr.setSsrc(o.ssrc >>> 0);
    rr.setReports(blocks);
    compound.addPacket(rr);
  }
  const sdes = new packets.SdesPacket();
  const chunk = new packets.SdesChunk();
  chunk.setSsrc(o.ssrc >>> 0);
  chunk.addItem(1 /* CNAME */, o.cname.slice(0, 255));
  sdes.addChunk(chunk);
  compound.addPacket(sdes);
  if (o.pli) {
    const pli = new packets.PliPacket();
    pli.setSenderSsrc(o.ssrc >>> 0);
    pli.setMediaSsrc(o.pli.mediaSsrc >>> 0);
    compound.addPacket(pli);
  }
  if (o.nack && o.nack.sequenceNumbers.length > 0) {
    const nack = new packets.NackPacket();
    nack.setSenderSsrc(o.ssrc >>> 0);
    nack.setMediaSsrc(o.nack.mediaSsrc >>> 0);
    nack.setItems(nackItems(o.nack.sequenceNumbers).slice(0, 64));
    compound.addPacket(nack);
  }
  if (o.fir) {
    // RFC 5104 §4.3.1.1: the common header's media source SSRC is 0; the FCI holds the target SSRC and Seq nr.
    const fir = new packets.GenericFeedbackPacket(undefined, PT_PSFB, FMT_FIR);
    fir.setSenderSsrc(o.ssrc >>> 0);
    fir.setMediaSsrc(0);
    const fci = new DataView(new ArrayBuffer(8));
    fci.setUint32(0, o.fir.mediaSsrc >>> 0);
    fci.setUint8(4, o.fir.seq & 0xff);
    fir.setBody(fci);
    compound.addPacket(fir);
  }
  if (o.bye) {
    const bye = new packets.ByePacket();
    bye.addSsrc(o.ssrc >>> 0);
    if (o.bye.reason) bye.setReason(o.bye.reason.slice(0, 255));
    compound.addPacket(bye);
  }
  const out = new ArrayBuffer(compound.getByteLength());
  compound.serialize(out);
  return new Uint8Array(out);
}

/** Parses an RTCP compound packet; [] if the bytes are not RTCP (never throws). */
export function parseRtcpCompound(bytes: Uint8Array): RtcpItem[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || !packets.isRtcp(view)) return [];
  let compound: packets.CompoundPacket;
  try {
    compound = new packets.CompoundPacket(view);
  } catch {
    return [];
  }
  const out: RtcpItem[] = [];
  for (const p of compound.getPackets().slice(0, 16)) {
    try {
      if (p instanceof packets.SenderReportPacket) {
        out.push({
          kind: 'sr', ssrc: p.getSsrc(), ntpSeconds: p.getNtpSeconds(), ntpFraction: p.getNtpFraction(), rtpTimestamp: p.getRtpTimestamp(),
          packetCount: p.getPacketCount(), octetCount: p.getOctetCount(), reports: p.getReports().map(fromReceptionReport),
        });
      } else if (p instanceof packets.ReceiverReportPacket) {
        out.push({ kind: 'rr', ssrc: p.getSsrc(), reports: p.getReports().map(fromReceptionReport) });
      } else if (p instanceof packets.SdesPacket) {
        out.push({ kind: 'sdes', chunks: p.getChunks().map((c) => ({ ssrc: c.getSsrc(), cname: c.getItems().find((i) => i.type === 1)?.text })) });
      } else if (p instanceof packets.PliPacket) {
        out.push({ kind: 'pli', senderSsrc: p.getSenderSsrc(), mediaSsrc: p.getMediaSsrc() });
      } else if (p instanceof packets.NackPacket) {
        const sequenceNumbers = p.getItems().slice(0, 64).flatMap((i) => nackSequenceNumbers(i.pid, i.bitmask));
        out.push({ kind: 'nack', senderSsrc: p.getSenderSsrc(), mediaSsrc: p.getMediaSsrc(), sequenceNumbers });
      } else if (p instanceof packets.GenericFeedbackPacket && p.getPacketType() === PT_PSFB && p.getMessageType() === FMT_FIR) {
        // RFC 5104 §4.3.1.2: one FCI entry per target; we keep those of at most 16
        const body = p.getBody();
        for (let off = 0; off + 8 <= body.byteLength && off < 8 * 16; off += 8) {
          out.push({ kind: 'fir', senderSsrc: p.getSenderSsrc(), mediaSsrc: body.getUint32(off), seq: body.getUint8(off + 4) });
        }
      } else if (p instanceof packets.ByePacket) {
        const reason = p.getReason();
        out.push({ kind: 'bye', ssrcs: p.getSsrcs(), ...(reason !== undefined ? { reason } : {}) });
      } else {
        out.push({ kind: 'other', packetType: p.getPacketType() });
      }
    } catch {
      // a malformed sub-packet is skipped
    }
  }
  return out;
}
