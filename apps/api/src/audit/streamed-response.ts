import { once } from 'node:events';
import type { Response } from 'express';

/**
 * Writes a long answer piece by piece, waiting whenever the socket's buffer is full, so an
 * export of any size holds one page in memory, not the whole answer. `write` answers false once
 * the client has gone: the caller stops reading the database.
 */
export class StreamedResponse {
  constructor(private readonly response: Response) {}

  get gone(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  async write(text: string): Promise<boolean> {
    if (this.gone) return false;
    if (!this.response.write(text)) {
      await Promise.race([once(this.response, 'drain'), once(this.response, 'close')]);
    }
    return !this.gone;
  }

  end(): void {
    if (!this.gone) this.response.end();
  }

  /**
   * A failure after the status line went out cannot become a problem+json answer: the connection
   * is cut instead, so the client sees an incomplete body (an export then lacks its `end` line).
   */
  abort(): void {
    this.response.destroy();
  }
}
