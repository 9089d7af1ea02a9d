import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { CLOCK, ConfigError, LOGGER, type Clock } from '#platform';
import { parseIsoDuration } from '../http/iso-duration.js';
import { AuditDigests, type DigestRecord } from './audit-digests.js';
import { DigestSigningKey } from './digest-signing-key.js';

export const AUDIT_DIGEST_INTERVAL_VARIABLE = 'AUDIT_DIGEST_INTERVAL';
/** The injection token of the schedule's interval in milliseconds. */
export const DIGEST_INTERVAL_MS = Symbol('DigestIntervalMs');

const DEFAULT_INTERVAL = 'PT1H';
const MIN_INTERVAL_MS = 60_000;
/** The longest the timer sleeps before looking at the clock again (the clock may be moved, e.g. by NTP). */
const MAX_SLEEP_MS = 60_000;
/** After a failed digest (database away), try again this much later. */
const RETRY_MS = 10_000;

/**
 * AUDIT_DIGEST_INTERVAL (default PT1H): an ISO-8601 duration of days, hours, minutes, seconds,
 * at least one minute.
 * @throws ConfigError naming the variable.
 */
export function loadDigestInterval(env: Readonly<Record<string, string | undefined>>): number {
  const text = env[AUDIT_DIGEST_INTERVAL_VARIABLE]?.trim() || DEFAULT_INTERVAL;
  const ms = parseIsoDuration(text);
  if (ms === undefined || ms < MIN_INTERVAL_MS) {
    throw new ConfigError([`${AUDIT_DIGEST_INTERVAL_VARIABLE} must be an ISO-8601 duration of at least one minute (e.g. PT1H, PT15M, P1D), got "${text}"`]);
  }
  return ms;
}

/**
 * Makes a signed digest once per interval (issue 6 item 3), in every process with the `api` role.
 * Intervals are fixed slices of the epoch (a PT1H schedule digests once in each clock hour), and
 * the slice's start is unique among stored digests, so replicas running together make one digest
 * per interval between them, and a process that starts makes the current interval's at once if
 * nobody has. Time comes from the injected clock; `runDue` is what the timer calls, and tests
 * call it after moving their clock instead of sleeping.
 */
@Injectable()
export class DigestSchedule implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly digests: AuditDigests,
    private readonly signingKey: DigestSigningKey,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(DIGEST_INTERVAL_MS) readonly intervalMs: number,
  ) {}

  /**
   * Starts with the current interval's digest, in the background: on a long log (a scan of
   * EventStoreDB's `$all`) it may take minutes, and the process must listen and answer its probes
   * meanwhile. A failure is logged and retried, never fatal.
   */
  onApplicationBootstrap(): void {
    if (!this.signingKey.available) {
      this.log.warn('TICKETFLOW_AUDIT_SIGNING_KEY is not set: no scheduled audit digests, and POST /v1/audit/digests answers 503');
      return;
    }
    void this.tick();
  }

  /** Resolves when the digest under way (if any) is done: for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** The start of the interval `at` falls in. */
  slotOf(at: Date): Date {
    return new Date(Math.floor(at.getTime() / this.intervalMs) * this.intervalMs);
  }

  /**
   * Makes the current interval's digest unless one exists: the digest made, or undefined when
   * this interval already has one.
   */
  async runDue(): Promise<DigestRecord | undefined> {
    const made = await this.digests.make({ trigger: 'scheduled', slot: this.slotOf(this.clock.now()) });
    if (made) this.log.info({ digestId: made.id, streams: made.streams }, 'audit digest made (scheduled)');
    return made;
  }

  private tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const run = this.runDue().then(
      () => this.arm(this.slotOf(this.clock.now()).getTime() + this.intervalMs),
      (error: unknown) => {
        this.log.error({ err: String(error) }, 'scheduled audit digest failed; retrying');
        this.arm(this.clock.now().getTime() + RETRY_MS);
      },
    );
    this.running = run;
    return run.then(() => {
      if (this.running === run) this.running = undefined;
    });
  }

  private arm(at: number): void {
    if (this.stopped) return;
    const delay = Math.min(Math.max(0, at - this.clock.now().getTime()), MAX_SLEEP_MS);
    this.timer = setTimeout(() => (this.clock.now().getTime() >= at ? void this.tick() : this.arm(at)), delay);
    this.timer.unref();
  }
}
