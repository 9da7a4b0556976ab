// Time as the registrar and authenticator see it; tests pass a fake.
import type { EpochMs } from '../store/store.ts';

export interface Clock {
  now(): EpochMs;
}

export const systemClock: Clock = { now: () => Date.now() };
