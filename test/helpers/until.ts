// Polls a condition until it holds, or fails naming what was awaited after `ms` (tests only).

/** Resolves once `test()` is true (checked every `everyMs`), else rejects after `ms` with "timed out waiting for <what>". */
export async function until(test: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Reads `f()` until `test` holds of its value or `ms` pass; returns the last value read (the caller asserts on it). */
export async function pollUntil<T>(f: () => Promise<T>, test: (v: T) => boolean, ms: number, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  let v = await f();
  while (!test(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, everyMs));
    v = await f();
  }
  return v;
}
