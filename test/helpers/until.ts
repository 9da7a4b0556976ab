// Polls a condition until it holds, or fails naming what was awaited after `ms` (tests only).

/** Resolves once `test()` is true (checked every `everyMs`), else rejects after `ms` with "timed out waiting for <what>". */
export async function until(test: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
