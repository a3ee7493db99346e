/**
 * Wait for a condition: `check` is polled until it returns something other than false, null or
 * undefined without throwing, and that value is returned. Bounded: after `timeoutMs` it fails
 * saying what was awaited, with the last error `check` threw as the cause. Tests wait for events
 * this way, never for a fixed time.
 */
export async function eventually<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== null && value !== undefined) return value as Exclude<T, false | null | undefined>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
