// Time as a port: capabilities read the time and set timers only through this, so tests use a fake clock. Imports nothing.

export type TimerHandle = unknown;

export interface Clock {
  /** epoch milliseconds */
  now(): number;
  /** a one-shot timer; the real clock unrefs it so it never keeps the process alive */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
