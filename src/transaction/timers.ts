// Timer values of the transaction layer (RFC 3261 §17, Table 4 of §A). Its timers run on the one Clock
// (src/clock.ts): `set(fn, ms, transaction)` allocates no closure per timer.

/** RFC 3261 §17.1.1.1: T1 (RTT estimate, 500 ms), T2 (max non-INVITE retransmit interval, 4 s), T4 (max network lifetime, 5 s). */
export interface TimerValues {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMER_VALUES: TimerValues = { t1: 500, t2: 4000, t4: 5000 };
