// Waiting for a TV agent's typed events in tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { TvAgentEvents } from '../../src/terminal/events.ts';
import { dominantFrequency, rms } from '../../src/media/goertzel.ts';
import { readWav } from '../../src/media/wav.ts';
import type { TvAgent } from '../../src/terminal/tv-agent.ts';

/** The next `event` of `agent` that passes `pred`; rejects after `ms`. */
export function waitFor<K extends keyof TvAgentEvents>(agent: TvAgent, event: K, pred: (e: TvAgentEvents[K][0]) => boolean = () => true, ms = 8000): Promise<TvAgentEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(event, on as never);
      reject(new Error(`timed out waiting for ${event}`));
    }, ms);
    const on = (e: TvAgentEvents[K][0]): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      agent.off(event, on as never);
      resolve(e);
    };
    agent.on(event, on as never);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TV agent's recording (its --record WAV) holds sound at `hz` (skipping the first 0.3 s). */
export function assertTone(file: string, hz: number): void {
  const wav = readWav(readFileSync(file));
  const samples = wav.samples.subarray(Math.min(2400, wav.samples.length >> 2));
  assert.ok(rms(samples) > 1000, `${file} has sound`);
  const f = dominantFrequency(samples, 8000);
  assert.ok(Math.abs(f - hz) < 5, `${file}: ${f} Hz, expected ${hz}`);
}
