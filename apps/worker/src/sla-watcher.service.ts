import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '#database';
import { WrongExpectedRevisionError, type Actor, type EventStore, type NewEvent } from '#event-store';
import { CLOCK, CONFIG, EVENT_STORE, LOGGER, Metrics, SlaWatcherHealth, SQL_DATABASE, type Clock, type TicketflowConfig } from '#platform';
import { AgentDirectory, asTicketEvent, SlaAlarmSignal, TICKET_STREAM_PREFIX } from '#read-model';
import {
  decideSlaAlarms,
  dueAlarms,
  evolve,
  INITIAL_STATE,
  nextAlarmAt,
  policyByVersion,
  warningTime,
  type EscalationTarget,
  type TicketEvent,
  type TicketState,
} from '#ticket-domain';

/** The namespace of the watcher's deterministic event ids (design.md: UUIDv5 of stream, clock, cycle, kind). */
const SLA_EVENT_NAMESPACE = '6f1d2c3b-8a4e-5f60-b7c8-d9e0f1a2b3c4';

/** A claimed cycle is not claimed again for this long, unless its watcher ends the lease when done (a watcher that died holds it this long). */
export const CLAIM_LEASE_MS = 30_000;
/** The longest the watcher sleeps without looking at the table (a missed wake-up costs at most this). */
const MAX_SLEEP_MS = 10_000;
/** After a failed pass (database away), look again after this. */
const RETRY_MS = 1_000;
const MAX_APPEND_ATTEMPTS = 4;
/** Tickets processed at once within one claimed batch. */
const CONCURRENCY = 8;

const WATCHER_ACTOR: Actor = { id: 'sla-watcher', kind: 'system', roles: [] };

/**
 * The watcher's claim ($1 now, $2 the most rows, $3 the lease's end): the due cycles nobody holds,
 * soonest first, skipping rows another session has locked, each leased (`claimed_until`) so no
 * watcher claims it again while it is handled. The lease is the only column written, and it is in
 * no index: the update can stay on the row's page. Exported for the benchmark's query plan.
 */
export const CLAIM_DUE_CLOCKS_SQL = `WITH due AS (
    SELECT ticket_id, clock, cycle, next_alarm_at FROM sla_clocks
    WHERE next_alarm_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
    ORDER BY next_alarm_at LIMIT $2 FOR UPDATE SKIP LOCKED
  )
  UPDATE sla_clocks c SET claimed_until = $3
  FROM due WHERE c.ticket_id = due.ticket_id AND c.clock = due.clock AND c.cycle = due.cycle
  RETURNING c.ticket_id, due.next_alarm_at AS alarm_at`;

interface ClaimedClock {
  ticket_id: string;
  alarm_at: Date | string;
}

/** The deterministic id of the watcher's event for one (stream, clock, cycle, kind). */
export function slaEventId(streamId: string, event: TicketEvent): string {
  if (event.type !== 'ticket.sla-warning' && event.type !== 'ticket.sla-breached') throw new Error(`not an SLA event: ${event.type}`);
  const kind = event.type === 'ticket.sla-warning' ? 'warning' : 'breach';
  return uuidv5(JSON.stringify([streamId, event.data.clock, event.data.cycle, kind]), SLA_EVENT_NAMESPACE);
}

/**
 * The SLA watcher role (api.md "SLA clocks"): sleeps until the next alarm in `sla_clocks`
 * (woken earlier when the projector states an earlier one), claims due clock cycles with
 * `FOR UPDATE SKIP LOCKED` and a lease so several watchers share the work, folds each ticket's
 * events and appends `ticket.sla-warning` / `ticket.sla-breached` with deterministic ids and the
 * expected revision. A retry, a second watcher or a command racing it therefore never records a
 * second event for one (clock, cycle, kind): the decision is taken again on the new history,
 * where the first one already shows.
 */
@Injectable()
export class SlaWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private armedFor?: number;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private stopListening?: () => Promise<void>;
  private failing = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly agents: AgentDirectory,
    private readonly signal: SlaAlarmSignal,
    private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: TicketflowConfig,
    private readonly health: SlaWatcherHealth = new SlaWatcherHealth(),
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.state = 'starting';
    // Counted when scraped: the count reads every running cycle, too much for every pass.
    this.metrics.countOpenClocks = () => this.countOpenClocks(this.clock.now());
    this.stopListening = await this.signal.listen(
      (at) => {
        if (this.armedFor === undefined || at < this.armedFor) this.wake();
      },
      this.db.kind === 'postgres' ? this.db : undefined,
    );
    // After a restart, re-arm from the table at once.
    this.wake();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.stopListening?.();
    await this.running;
  }

  /** Look at the table now (a pass already running looks again when it ends). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.armedFor = undefined;
    this.running = this.pass()
      .then((next) => this.arm(next))
      .catch((error: unknown) => {
        if (!this.failing) this.log.error({ err: String(error) }, 'SLA watcher failing; retrying');
        this.failing = true;
        this.health.state = 'failing';
        this.arm(this.clock.now().getTime() + RETRY_MS);
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves when the pass under way (if any) has finished: for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private arm(next: number | undefined): void {
    if (this.stopped) return;
    const now = this.clock.now().getTime();
    const target = next ?? now + MAX_SLEEP_MS;
    this.armedFor = target;
    this.timer = setTimeout(() => this.wake(), Math.min(Math.max(0, target - now), MAX_SLEEP_MS));
    this.timer.unref();
  }

  /** Claims and handles due clocks until none is left; answers when the next alarm is due. */
  private async pass(): Promise<number | undefined> {
    for (;;) {
      const now = this.clock.now();
      const claimed = await this.claim(now);
      if (claimed.length > 0) await this.handle(claimed, now);
      if (this.failing) this.log.info('SLA watcher recovered');
      this.failing = false;
      this.health.state = 'running';
      if (claimed.length < this.batchSize) break;
    }
    // The next alarm nobody holds (an index scan from the start of sla_clocks_next_alarm, passing
    // over the few leased rows); a lease that runs out is seen at the latest MAX_SLEEP_MS later.
    const rows = await this.db.query<{ next: Date | string | null }>(
      `SELECT next_alarm_at AS next FROM sla_clocks
       WHERE next_alarm_at IS NOT NULL AND (claimed_until IS NULL OR claimed_until <= $1)
       ORDER BY next_alarm_at LIMIT 1`,
      [this.clock.now()],
    );
    const next = rows[0]?.next;
    return next ? new Date(next).getTime() : undefined;
  }

  private get batchSize(): number {
    return this.config.slaWatcherBatch;
  }

  /** `/metrics`: the running clock cycles by their state now (warning: a warning was recorded). */
  private async countOpenClocks(now: Date): Promise<void> {
    const [row] = await this.db.query<{ running: string; warning: string; breached: string }>(
      `SELECT count(*) FILTER (WHERE due_at >= $1 AND warned_at IS NULL) AS running,
              count(*) FILTER (WHERE due_at >= $1 AND warned_at IS NOT NULL) AS warning,
              count(*) FILTER (WHERE due_at < $1) AS breached
       FROM sla_clocks WHERE stopped_at IS NULL`,
      [now],
    );
    for (const state of ['running', 'warning', 'breached'] as const) this.metrics.slaOpenClocks.set({ state }, Number(row?.[state] ?? 0));
  }

  /** One statement, no transaction held while the clocks are handled (CLAIM_DUE_CLOCKS_SQL). */
  private claim(now: Date): Promise<ClaimedClock[]> {
    return this.db.query<ClaimedClock>(CLAIM_DUE_CLOCKS_SQL, [now, this.batchSize, new Date(now.getTime() + CLAIM_LEASE_MS)]);
  }

  private async handle(claimed: readonly ClaimedClock[], now: Date): Promise<void> {
    const tickets = [...new Set(claimed.map((c) => c.ticket_id))];
    let next = 0;
    const worker = async () => {
      while (next < tickets.length) {
        const ticketId = tickets[next++]!;
        await this.handleTicket(ticketId, now).catch((error: unknown) => {
          // The lease brings it back; one bad ticket does not stop the others.
          this.log.error({ ticketId, err: String(error) }, 'SLA watcher could not handle a ticket');
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, tickets.length) }, worker));
  }

  /** Folds the ticket, appends what is due, and states its next alarm in the table. */
  async handleTicket(ticketId: string, now: Date): Promise<void> {
    const streamId = `${TICKET_STREAM_PREFIX}${ticketId}`;
    for (let attempt = 1; ; attempt++) {
      const history = await this.store.readStream(streamId);
      let state: TicketState = INITIAL_STATE;
      for (const envelope of history) {
        const event = asTicketEvent(envelope);
        if (event) state = evolve(state, event);
      }
      if (state.status === 'none') return;
      const due = dueAlarms(state, now);
      if (due.length === 0) return this.restate(ticketId, state);
      const escalation: EscalationTarget = due.some((d) => d.kind === 'breach')
        ? await this.agents.onDutySupervisor(state.department, now)
        : { kind: 'queue', queue: 'supervisors' };
      const events = decideSlaAlarms(state, now, escalation);
      const correlationId = uuidv7();
      try {
        const result = await this.store.append(
          streamId,
          events.map(
            (event): NewEvent => ({
              eventId: slaEventId(streamId, event),
              type: event.type,
              schemaVersion: event.schemaVersion,
              occurredAt: event.occurredAt,
              actor: WATCHER_ACTOR,
              correlationId,
              causationId: null,
              commandId: null,
              data: event.data,
            }),
          ),
          { expectedRevision: history.length - 1 },
        );
        this.metrics.appends.inc({ outcome: result.duplicate ? 'duplicate' : 'appended' });
        if (!result.duplicate) {
          this.metrics.appendedEvents.inc(result.events.length);
          const appendedAt = Date.parse(result.events[result.events.length - 1]!.recordedAt);
          for (const { clock, kind } of due) {
            const alarmAt = kind === 'breach' ? Date.parse(clock.dueAt) : warningTime(clock, policyByVersion(clock.policyVersion));
            this.metrics.slaAlarms.inc({ kind, clock: clock.name });
            this.metrics.slaWatcherLag.observe({ kind }, Math.max(0, appendedAt - alarmAt) / 1000);
          }
        }
        return this.restate(ticketId, events.reduce<TicketState>(evolve, state));
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_APPEND_ATTEMPTS) throw error;
        this.metrics.appends.inc({ outcome: 'conflict' });
      }
    }
  }

  /**
   * Writes each cycle's next alarm as the ticket's history states it and ends the lease now
   * rather than in 30 s; the projector writes the same alarms when it applies the events.
   */
  private async restate(ticketId: string, state: TicketState): Promise<void> {
    if (state.status === 'none') return;
    const alarms = state.clocks.map((clock) => ({ clock: clock.name, cycle: clock.cycle, next_alarm_at: nextAlarmAt([clock], policyByVersion) }));
    // Rows the projector is writing right now are skipped, not waited for: it writes them from the
    // ticket's events itself, and waiting could deadlock with its multi-ticket upsert.
    await this.db.query(
      `WITH free AS (SELECT clock, cycle FROM sla_clocks WHERE ticket_id = $1 FOR UPDATE SKIP LOCKED)
       UPDATE sla_clocks c SET next_alarm_at = a.next_alarm_at, claimed_until = NULL
       FROM free, jsonb_to_recordset($2::jsonb) AS a(clock text, cycle int, next_alarm_at timestamptz)
       WHERE c.ticket_id = $1 AND c.clock = free.clock AND c.cycle = free.cycle AND a.clock = free.clock AND a.cycle = free.cycle`,
      [ticketId, JSON.stringify(alarms)],
    );
  }
}
