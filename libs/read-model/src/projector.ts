import type { Checkpoint, StoredEvent } from '#event-store';

/**
 * A projection the projector role runs (design.md): it applies a batch of the log and its
 * checkpoint in one transaction, and refuses a batch read after a checkpoint that is no longer
 * the stored one (CheckpointMovedError) so a rebuild can move it underneath.
 */
export interface Projector {
  readonly name: string;
  checkpoint(): Promise<Checkpoint | null>;
  apply(batch: readonly StoredEvent[], resumedFrom: Checkpoint | null): Promise<unknown>;
}

/** The checkpoint in the table is not the one this projector resumed from (a rebuild swapped it). */
export class CheckpointMovedError extends Error {
  constructor(readonly projection: string) {
    super(`the checkpoint of projection ${projection} moved under this projector`);
    this.name = 'CheckpointMovedError';
  }
}
