import { Inject, Injectable } from '@nestjs/common';
import { WrongExpectedRevisionError, type EventEnvelope, type EventStore, type NewEvent } from '#event-store';
import { CLOCK, CONFIG, Metrics, type Clock, type TicketflowConfig, EVENT_STORE } from '#platform';
import { asTicketEvent, ReadModelWaiter, TICKET_STREAM_PREFIX } from '#read-model';
import {
  CURRENT_POLICY,
  TicketNotFoundError,
  decide,
  evolve,
  INITIAL_STATE,
  type TicketCommand,
  type TicketEvent,
  type TicketState,
} from '#ticket-domain';
import type { CommandMetadata } from '../commands/command-metadata.js';
import type { CommandResult } from '../commands/command-result.js';
import { StaleRevisionError } from '../http/problem.js';

/** design.md: without If-Match, a command that meets a concurrent append re-decides up to 3 times. */
const MAX_ATTEMPTS = 4;

/**
 * The most a retry waits, per attempt so far, before it re-reads. Random, so commands that lost
 * the same race do not all come back at the same instant and lose the next one too.
 */
const RETRY_JITTER_MS = 50;

/** intake systems' clocks drift: a receivedAt up to this far ahead is not "in the future". */
const CLOCK_SKEW_TOLERANCE_MS = 5_000;

export function ticketStream(ticketId: string): string {
  return `${TICKET_STREAM_PREFIX}${ticketId}`;
}

/**
 * The plumbing every ticket command shares (style.md §6): read the stream, fold `evolve`,
 * `decide`, append with the expected revision, wait for the read model, answer.
 */
@Injectable()
export class TicketCommandRunner {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: TicketflowConfig,
    private readonly waiter: ReadModelWaiter,
    private readonly metrics: Metrics,
  ) {}

  /**
   * @param prepare builds the domain command from the folded state (sealing personal fields
   *   needs the ticket's customer), once per attempt.
   */
  async run(
    ticketId: string,
    meta: CommandMetadata,
    prepare: (state: TicketState) => Promise<TicketCommand> | TicketCommand,
  ): Promise<CommandResult> {
    const streamId = ticketStream(ticketId);
    if (ticketId === meta.newTicketId() && meta.ifMatch === undefined) {
      const created = await this.create(ticketId, streamId, meta, prepare);
      if (created) return created;
    }
    for (let attempt = 1; ; attempt++) {
      const history = await this.store.readStream(streamId);
      const head = history.length - 1;
      // A retried command (same Idempotency-Key) whose events are already stored answers them again.
      const earlier = history.filter((e) => e.commandId === meta.commandId);
      if (earlier.length > 0) return this.answer(ticketId, earlier, history[0]!.commandId === meta.commandId);

      const state = history.reduce<TicketState>((s, e) => {
        const event = asTicketEvent(e);
        return event ? evolve(s, event) : s;
      }, INITIAL_STATE);
      const command = await prepare(state);
      if (command.type !== 'receive' && state.status === 'none') throw new TicketNotFoundError(ticketId);
      if (meta.ifMatch !== undefined && meta.ifMatch !== head) throw new StaleRevisionError(meta.ifMatch, head);

      try {
        return await this.append(ticketId, streamId, command, state, head < 0 ? 'no-stream' : head, meta);
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        this.metrics.appends.inc({ outcome: 'conflict' });
        if (meta.ifMatch !== undefined) {
          throw new StaleRevisionError(meta.ifMatch, typeof error.actual === 'number' ? error.actual : -1);
        }
        if (attempt >= MAX_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * RETRY_JITTER_MS * attempt));
      }
    }
  }

  /**
   * A create (the command's own new ticket id) skips reading the stream: nobody else can have
   * appended to it, so it decides on the empty state and appends with `no-stream` — one round
   * trip fewer. When the stream exists after all, this is a retry of a create whose events are
   * stored: the store answers them as a duplicate when the retry's event ids repeat (an
   * Idempotency-Key), or refuses it, and then `run` reads the stream and answers the stored
   * events. Undefined when the command turned out not to be a create.
   */
  private async create(
    ticketId: string,
    streamId: string,
    meta: CommandMetadata,
    prepare: (state: TicketState) => Promise<TicketCommand> | TicketCommand,
  ): Promise<CommandResult | undefined> {
    const command = await prepare(INITIAL_STATE);
    if (command.type !== 'receive') return undefined;
    try {
      return await this.append(ticketId, streamId, command, INITIAL_STATE, 'no-stream', meta);
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) return undefined;
      throw error;
    }
  }

  private async append(
    ticketId: string,
    streamId: string,
    command: TicketCommand,
    state: TicketState,
    expectedRevision: number | 'no-stream',
    meta: CommandMetadata,
  ): Promise<CommandResult> {
    const decided = decide(command, state, {
      now: this.clock.now(),
      policy: CURRENT_POLICY,
      clockSkewToleranceMs: CLOCK_SKEW_TOLERANCE_MS,
    });
    const result = await this.store.append(streamId, decided.map((event, index) => this.envelope(event, index, meta)), {
      expectedRevision,
    });
    this.metrics.appends.inc({ outcome: result.duplicate ? 'duplicate' : 'appended' });
    if (!result.duplicate) this.metrics.appendedEvents.inc(result.events.length);
    return this.answer(ticketId, result.events, command.type === 'receive');
  }

  private envelope(event: TicketEvent, index: number, meta: CommandMetadata): NewEvent {
    return {
      eventId: meta.eventId(index),
      type: event.type,
      schemaVersion: event.schemaVersion,
      occurredAt: event.occurredAt,
      actor: meta.actor,
      correlationId: meta.correlationId,
      causationId: meta.commandId,
      commandId: meta.commandId,
      data: event.data,
    };
  }

  /** Read your writes (api.md): wait, bounded, until the read model shows the last event. */
  private async answer(ticketId: string, events: readonly EventEnvelope[], created: boolean): Promise<CommandResult> {
    const last = events[events.length - 1]!;
    const reached = await this.waiter.waitFor(ticketId, last.revision, this.config.readYourWritesTimeoutMs);
    return { ticketId, revision: last.revision, position: last.position, readModelLag: !reached, created };
  }
}
