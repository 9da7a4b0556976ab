// WAV (RIFF WAVE) reading and writing: linear PCM only.
// Read: 8-bit unsigned or 16-bit signed little-endian, or G.711 (A-law 6, µ-law 7), mono or stereo, common sample rates.
// Write: 16-bit mono (8 kHz by default), the format a recorded call is kept in.
import { TvphoneError } from '../errors.ts';
import { decodeG711 } from './g711.ts';

/** Sample rates we accept from WAV files (anything else is refused with ERR_WAV_FORMAT). */
export const SUPPORTED_SAMPLE_RATES: readonly number[] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** bits per sample in the file (8 or 16); samples below are always 16-bit */
  bitsPerSample: number;
  /** how the file's samples were coded */
  encoding: 'pcm' | 'alaw' | 'mulaw';
  /** interleaved 16-bit samples (8-bit input is scaled to 16-bit) */
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 0x0001;
/** RFC 2361 (WAVE and AVI codec registries): ITU G.711 a-law and u-law */
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Cap on the data we decode: 1 hour of 48 kHz stereo 16-bit. */
const MAX_DATA_BYTES = 48000 * 2 * 2 * 3600;

function wavError(message: string): TvphoneError {
  return new TvphoneError('ERR_WAV_FORMAT', message);
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/** Parses a RIFF WAVE file. Throws TvphoneError('ERR_WAV_FORMAT') naming what is unsupported. */
export function readWav(bytes: Uint8Array): WavAudio {
  if (bytes.length < 12 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    throw wavError('not a WAV file (no RIFF/WAVE header)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: { format: number; channels: number; sampleRate: number; bits: number; blockAlign: number } | undefined;
  let data: Uint8Array | undefined;
  let at = 12;
  for (let chunks = 0; at + 8 <= bytes.length && chunks < 1000; chunks++) {
    const id = fourcc(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    const end = Math.min(bytes.length, body + size); // tolerate a truncated last chunk
    if (id === 'fmt ') {
      if (size < 16) throw wavError(`fmt chunk too short (${size} bytes)`);
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40) format = view.getUint16(body + 24, true); // SubFormat GUID's first 2 bytes
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = bytes.subarray(body, end);
    }
    at = body + size + (size & 1); // RIFF chunks are padded to even length
  }
  if (!fmt) throw wavError('WAV file has no fmt chunk');
  if (!data) throw wavError('WAV file has no data chunk');
  const g711 = fmt.format === WAVE_FORMAT_ALAW ? 'PCMA' : fmt.format === WAVE_FORMAT_MULAW ? 'PCMU' : null;
  if (fmt.format !== WAVE_FORMAT_PCM && g711 === null) {
    throw wavError(`unsupported WAV encoding ${fmt.format} (only linear PCM, format 1, or G.711 A-law 6 / µ-law 7)`);
  }
  if (g711 !== null && fmt.bits !== 8) throw wavError(`unsupported G.711 WAV sample size ${fmt.bits} bits (G.711 is 8)`);
  if (fmt.bits !== 8 && fmt.bits !== 16) throw wavError(`unsupported WAV sample size ${fmt.bits} bits (only 8 or 16)`);
  if (fmt.channels !== 1 && fmt.channels !== 2) throw wavError(`unsupported WAV channel count ${fmt.channels} (only mono or stereo)`);
  if (!SUPPORTED_SAMPLE_RATES.includes(fmt.sampleRate)) {
    throw wavError(`unsupported WAV sample rate ${fmt.sampleRate} Hz (supported: ${SUPPORTED_SAMPLE_RATES.join(', ')})`);
  }
  if (data.length > MAX_DATA_BYTES) throw wavError(`WAV data too long (${data.length} bytes, max ${MAX_DATA_BYTES})`);
  const bytesPerSample = fmt.bits / 8;
  const frames = Math.floor(data.length / (bytesPerSample * fmt.channels));
  const count = frames * fmt.channels;
  if (g711 !== null) {
    const samples = decodeG711(g711, data.subarray(0, count));
    return { sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: 8, encoding: g711 === 'PCMA' ? 'alaw' : 'mulaw', samples };
  }
  const samples = new Int16Array(count);
  if (fmt.bits === 16) {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < count; i++) samples[i] = dv.getInt16(i * 2, true);
  } else {
    for (let i = 0; i < count; i++) samples[i] = (data[i] - 128) << 8; // 8-bit WAV is unsigned, 128 = silence
  }
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: fmt.bits, encoding: 'pcm', samples };
}

/** A 16-bit PCM mono WAV file (44-byte canonical header). */
export function writeWav(samples: Int16Array, sampleRate = 8000): Uint8Array {
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string): void => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, WAVE_FORMAT_PCM, true);
  v.setUint16(22, 1, true); // channels
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true); // byte rate
  v.setUint16(32, 2, true); // block align
  v.setUint16(34, 16, true); // bits
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, samples[i], true);
  return out;
}
