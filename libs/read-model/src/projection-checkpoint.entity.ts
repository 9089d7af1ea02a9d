import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Where each projection stands in the global log, keyed by projection name so later
 * projections (and partitions of one, `tickets/p3`) each keep their own. Written in the
 * same transaction as the projection's rows.
 */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpoint {
  @PrimaryColumn('text')
  name: string;

  /** The event store's opaque checkpoint; null means the start of the log. */
  @Column('text', { nullable: true })
  checkpoint: string | null;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
