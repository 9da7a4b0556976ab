// The registrar and authenticator only read the time; tests pass a fake.
import type { Clock as FullClock } from '../clock.ts';

export type Clock = Pick<FullClock, 'now'>;

export const systemClock: Clock = { now: () => Date.now() };
