import { Injectable } from '@nestjs/common';

export type ProjectionState = 'starting' | 'running' | 'failing';

/** What readiness reports of the projector role in this process: the worst of its projections. */
@Injectable()
export class ProjectorHealth {
  readonly projections = new Map<string, ProjectionState>();

  get state(): 'off' | ProjectionState {
    const states = [...this.projections.values()];
    if (states.length === 0) return 'off';
    if (states.includes('failing')) return 'failing';
    if (states.includes('starting')) return 'starting';
    return 'running';
  }

  set(projection: string, state: ProjectionState): void {
    this.projections.set(projection, state);
  }

  /** A partition this process no longer runs (handed to another worker). */
  delete(projection: string): void {
    this.projections.delete(projection);
  }
}

/** What readiness reports of the SLA watcher role in this process. */
@Injectable()
export class SlaWatcherHealth {
  state: 'off' | 'starting' | 'running' | 'failing' = 'off';
}

/** What readiness reports of the Kafka relay role in this process. */
@Injectable()
export class RelayHealth {
  state: 'off' | 'starting' | 'publishing' | 'broker-unavailable' | 'standby' | 'stopped' = 'off';
}
