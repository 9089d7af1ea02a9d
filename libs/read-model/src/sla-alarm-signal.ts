import { EventEmitter } from 'node:events';
import type { SqlDatabase } from '#database';

/** The channel the projector NOTIFYs when a ticket's next SLA alarm may be earlier than the watcher knows. */
export const SLA_ALARMS_CHANNEL = 'ticketflow_sla_alarms';

/**
 * Tells the SLA watcher that an alarm is due at a time it may not have armed for: the
 * projector announces the next alarm of every ticket it changed. In one process the watcher
 * hears it directly; with `notifyDb` the announcement also goes out as a NOTIFY (to a watcher
 * in another process), coalesced: an alarm no earlier than one already announced and still
 * ahead wakes nobody new, since the watcher re-reads the table whenever it wakes.
 */
export class SlaAlarmSignal {
  readonly #local = new EventEmitter().setMaxListeners(0);
  #announcedAhead: number | undefined;

  constructor(private readonly options: { readonly notifyDb?: SqlDatabase; readonly now: () => Date }) {}

  announce(times: ReadonlyArray<string | null>): void {
    let earliest: number | undefined;
    for (const at of times) {
      if (at === null) continue;
      const t = Date.parse(at);
      if (earliest === undefined || t < earliest) earliest = t;
    }
    if (earliest === undefined) return;
    this.#local.emit('alarm', earliest);
    const db = this.options.notifyDb;
    if (!db) return;
    const now = this.options.now().getTime();
    if (this.#announcedAhead !== undefined && this.#announcedAhead > now && this.#announcedAhead <= earliest) return;
    this.#announcedAhead = earliest;
    db.query('SELECT pg_notify($1, $2)', [SLA_ALARMS_CHANNEL, String(earliest)]).catch(() => undefined);
  }

  /** Calls `onAlarm` with the announced time (ms) of every announcement; the result stops listening. */
  async listen(onAlarm: (at: number) => void, remoteDb?: SqlDatabase): Promise<() => Promise<void>> {
    this.#local.on('alarm', onAlarm);
    let stopRemote: (() => Promise<void>) | undefined;
    if (remoteDb) {
      stopRemote = await remoteDb
        .listen(SLA_ALARMS_CHANNEL, (payload) => {
          const at = Number(payload);
          if (Number.isFinite(at)) onAlarm(at);
        })
        .catch(() => undefined);
    }
    return async () => {
      this.#local.off('alarm', onAlarm);
      await stopRemote?.();
    };
  }
}
