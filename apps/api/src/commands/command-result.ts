/** What every command answers (api.md): the ticket, the revision it reached, the last event's position. */
export interface CommandResult {
  readonly ticketId: string;
  readonly revision: number;
  readonly position: number;
  /** The read model did not reach `revision` within READ_YOUR_WRITES_TIMEOUT_MS. */
  readonly readModelLag: boolean;
  readonly created: boolean;
}
