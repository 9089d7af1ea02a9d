import { EventEmitter } from 'node:events';
import type { AppliedRevision } from './ticket-projector.js';

/**
 * Read your writes (api.md): a command answers once the ticket's read-model row reached the
 * revision it appended. A projector in this process announces what it applied; a projector
 * in another process is seen by polling the row (`pollIntervalMs`, null when the projector
 * runs here and announces). The row is always checked once after listening starts, so an
 * announcement made before the wait began is not missed.
 */
export class ReadModelWaiter {
  private readonly applied = new EventEmitter();

  constructor(
    private readonly currentRevision: (ticketId: string) => Promise<number | null>,
    private readonly pollIntervalMs: number | null = null,
  ) {
    this.applied.setMaxListeners(0);
  }

  announce(revisions: readonly AppliedRevision[]): void {
    for (const { ticketId, revision } of revisions) this.applied.emit(ticketId, revision);
  }

  /** Resolves true once the row reached `revision`, false when `timeoutMs` passed first. */
  async waitFor(ticketId: string, revision: number, timeoutMs: number): Promise<boolean> {
    let settle: (reached: boolean) => void = () => undefined;
    const done = new Promise<boolean>((resolve) => (settle = resolve));
    const onApplied = (applied: number) => {
      if (applied >= revision) settle(true);
    };
    this.applied.on(ticketId, onApplied);
    const timeout = setTimeout(() => settle(false), timeoutMs);
    let polling = true;
    const poll = async () => {
      do {
        const current = await this.currentRevision(ticketId).catch(() => null);
        if (current !== null && current >= revision) return settle(true);
        if (this.pollIntervalMs === null) return;
        await new Promise((r) => setTimeout(r, this.pollIntervalMs ?? 0));
      } while (polling);
    };
    void poll();
    try {
      return await done;
    } finally {
      polling = false;
      clearTimeout(timeout);
      this.applied.off(ticketId, onApplied);
    }
  }
}
