/** Gives the lease back; calling it again does nothing. */
export type ReleaseLease = () => void;

/**
 * A first-come, first-served lease: one holder at a time, the others wait in line.
 * PGlite has a single connection, so every statement, every transaction (BEGIN to
 * COMMIT/ROLLBACK) and every TypeORM connection holds this lease while it runs.
 */
export class LeaseQueue {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves when every earlier holder has released; the caller must release in turn. */
  acquire(): Promise<ReleaseLease> {
    let releaseTurn!: () => void;
    const turnDone = new Promise<void>((resolve) => (releaseTurn = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => turnDone);
    let released = false;
    const release: ReleaseLease = () => {
      if (released) return;
      released = true;
      releaseTurn();
    };
    return previous.then(() => release);
  }

  /** Runs `work` while holding the lease. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }
}
