/** For beforeAll/afterAll hooks that open or close a database: PGlite alone takes seconds to start on a busy machine. */
export const DATABASE_HOOK_TIMEOUT_MS = 30_000;

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Retries `assertion` every 10 ms until it passes, for effects that arrive asynchronously
 * (a subscription's delivery, a NOTIFY); after `timeoutMs` its last failure is thrown.
 */
export async function eventually(assertion: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await pause(10);
    }
  }
}
