import { randomBytes } from 'node:crypto';
import { PgDatabase } from '#database';
import { derivePseudonymKey, PersonalDataVault } from '#personal-data';
import { TicketHistories } from '../fixtures/tickets.js';
import { seededRandom } from '../fixtures/people.js';
import { SCHEMAS, type BenchDatabase } from '../infra/bench-database.js';

/** One figure of the run, as `bench/results/latest.json` lists it. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly quick?: true;
}

/** What a phase measured: its figures and whatever explains them. */
export interface PhaseResult {
  readonly figures: ReadonlyArray<Omit<Figure, 'quick'>>;
  readonly diagnostics: Readonly<Record<string, unknown>>;
  /** Lines printed under the table: what a reader must know to read these figures. */
  readonly notes?: readonly string[];
}

/** Undo steps run at the end, also on failure and Ctrl-C, last registered first. */
export class Cleanup {
  readonly #steps: Array<{ what: string; run: () => Promise<unknown> | unknown }> = [];
  #running: Promise<void> | undefined;

  add(what: string, run: () => Promise<unknown> | unknown): () => void {
    const step = { what, run };
    this.#steps.push(step);
    return () => {
      const index = this.#steps.indexOf(step);
      if (index >= 0) this.#steps.splice(index, 1);
    };
  }

  /** Runs every remaining step once, reporting (not throwing) what fails. */
  run(report: (line: string) => void): Promise<void> {
    this.#running ??= (async () => {
      while (this.#steps.length > 0) {
        const step = this.#steps.pop()!;
        try {
          await step.run();
        } catch (error) {
          report(`cleanup: ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.#running;
  }
}

export interface BenchSettings {
  readonly quick: boolean;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Events seeded for projection.rebuild and subscription.catchup. */
  readonly seedEvents: number;
  /** Distinct customers in the generated traffic (repeat callers share a data key). */
  readonly customers: number;
  /** When set, the service under test runs with `node --cpu-prof` writing here. */
  readonly serviceProfileDir?: string;
}

export const FULL: BenchSettings = { quick: false, warmupMs: 3_000, durationMs: 15_000, seedEvents: 100_000, customers: 20_000 };
export const QUICK: BenchSettings = { quick: true, warmupMs: 1_000, durationMs: 1_500, seedEvents: 10_000, customers: 2_000 };

/** Realistic sealed tickets: the vault's customer keys live in the seed schema. */
export interface Fixtures {
  readonly histories: TicketHistories;
  readonly masterKey: Buffer;
}

export class BenchContext {
  #fixtures: Promise<Fixtures> | undefined;

  constructor(
    readonly settings: BenchSettings,
    readonly database: BenchDatabase,
    readonly cleanup: Cleanup,
    readonly log: (line: string) => void,
  ) {}

  /** Opened on first use; one master key per run (the service under test gets the same). */
  fixtures(): Promise<Fixtures> {
    this.#fixtures ??= (async () => {
      const db = new PgDatabase({ connectionString: this.database.url, searchPath: SCHEMAS.seed, max: 8, applicationName: 'ticketflow-bench:fixtures' });
      this.cleanup.add('close the fixtures database', () => db.close());
      const masterKey = randomBytes(32);
      const vault = new PersonalDataVault({ db, masterKey, now: () => new Date() });
      await vault.ensureSchema();
      const histories = new TicketHistories(vault, derivePseudonymKey(masterKey), seededRandom(20_250_101), this.settings.customers);
      return { histories, masterKey };
    })();
    return this.#fixtures;
  }
}
