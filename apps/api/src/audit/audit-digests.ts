import { createPublicKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import {
  byStreamId,
  classifyHead,
  digestStatement,
  foldHeads,
  isTampering,
  signStatement,
  statementDigest,
  verifyStatement,
  type DigestHead,
  type HeadChange,
} from '#audit';
import type { SqlDatabase } from '#database';
import type { ChainHead, EventStore } from '#event-store';
import { CLOCK, EVENT_STORE, SQL_DATABASE, type Clock } from '#platform';
import { TICKET_STREAM_PREFIX } from '#read-model';
import { DigestSigningKey } from './digest-signing-key.js';

/** A signed digest as `GET /v1/audit/digests` lists it. */
export interface DigestRecord {
  readonly id: string;
  readonly createdAt: string;
  readonly trigger: 'on-demand' | 'scheduled';
  /** The key id of whoever asked for it (on demand). */
  readonly requestedBy: string | null;
  readonly streams: number;
  /** SHA-256 hex over the sorted `streamId:revision:hash` lines (`foldHeads`). */
  readonly digest: string;
  readonly algorithm: 'Ed25519';
  /** The exact text signed (`digestStatement`). */
  readonly statement: string;
  /** Base64 of the Ed25519 signature of `statement`. */
  readonly signature: string;
  readonly publicKeyFingerprint: string;
}

/** Changes listed by a check: at most this many of each kind (the counts are always complete). */
export const CHECK_LIST_LIMIT = 1_000;

export interface DigestCheck {
  readonly digestId: string;
  readonly createdAt: string;
  readonly checkedAt: string;
  /** The kept history is intact: the stored heads fold to the signed digest, and no stream was rewritten, cut short or deleted. */
  readonly valid: boolean;
  /** `other-key`: signed by a key this process does not hold; verify it offline against that key (docs/audit.md). */
  readonly signature: 'valid' | 'invalid' | 'other-key';
  /** The heads stored with the digest fold to the digest its statement names. */
  readonly headsMatchDigest: boolean;
  readonly counts: Readonly<Record<HeadChange | 'covered' | 'added', number>>;
  readonly missing: readonly string[];
  readonly truncated: ReadonlyArray<{ streamId: string; revision: number; currentRevision: number }>;
  readonly rewritten: ReadonlyArray<{ streamId: string; revision: number; keptHash: string; currentHash: string }>;
  readonly extended: ReadonlyArray<{ streamId: string; revision: number; currentRevision: number }>;
}

interface DigestRow {
  id: string;
  created_at: string;
  trigger: 'on-demand' | 'scheduled';
  requested_by: string | null;
  streams: number;
  digest: string;
  statement: string;
  signature: string;
  public_key_fingerprint: string;
}

const ISO_INSTANT = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const DIGEST_COLUMNS = `id::text AS id, to_char(created_at AT TIME ZONE 'UTC', ${ISO_INSTANT}) AS created_at, trigger, requested_by,
  streams, digest, statement, signature, public_key_fingerprint`;
/** Heads inserted per statement: keeps each statement's parameters small. */
const HEADS_PER_INSERT = 5_000;

/**
 * Signed digests of every ticket stream's head (issue 6 item 3): made on demand or on a schedule,
 * kept with the heads they covered, listed newest first, and checked against the streams as they
 * are now, so a stream deleted or rewritten since is caught.
 */
@Injectable()
export class AuditDigests {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly signingKey: DigestSigningKey,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Reads every ticket stream's head from the event store (`EventStore.streamHeads`), folds and
   * signs them, and stores the digest with its heads in one transaction. A scheduled digest names
   * its interval's start (`slot`): when another replica already made that one, nothing is stored
   * and the answer is undefined.
   * @throws ProblemException 503 without a signing key.
   */
  async make(request: { trigger: 'on-demand'; requestedBy: string | null } | { trigger: 'scheduled'; slot: Date }): Promise<DigestRecord | undefined> {
    const privateKey = this.signingKey.privateKey();
    const heads = await this.currentHeads();
    const id = uuidv7();
    const createdAt = this.clock.now().toISOString();
    const digest = foldHeads(heads);
    const statement = digestStatement({ id, createdAt, streams: heads.length, digest });
    const record: DigestRecord = {
      id,
      createdAt,
      trigger: request.trigger,
      requestedBy: request.trigger === 'on-demand' ? request.requestedBy : null,
      streams: heads.length,
      digest,
      algorithm: 'Ed25519',
      statement,
      signature: signStatement(statement, privateKey),
      publicKeyFingerprint: this.signingKey.fingerprint(),
    };
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO audit_digests (id, created_at, trigger, schedule_slot, requested_by, streams, digest, statement, signature, public_key_fingerprint)
         VALUES ($1::uuid, $2::timestamptz, $3, $4::timestamptz, $5, $6::int, $7, $8, $9, $10)
         ON CONFLICT (schedule_slot) DO NOTHING RETURNING id`,
        [
          id,
          createdAt,
          record.trigger,
          request.trigger === 'scheduled' ? request.slot.toISOString() : null,
          record.requestedBy,
          record.streams,
          digest,
          statement,
          record.signature,
          record.publicKeyFingerprint,
        ],
      );
      if (inserted.length === 0) return undefined;
      for (let from = 0; from < heads.length; from += HEADS_PER_INSERT) {
        const chunk = heads.slice(from, from + HEADS_PER_INSERT).map((h) => [h.streamId, h.revision, h.hash]);
        await tx.query(
          `INSERT INTO audit_digest_heads (digest_id, stream_id, revision, hash)
           SELECT $1::uuid, h->>0, (h->>1)::int, h->>2 FROM jsonb_array_elements($2::jsonb) AS h`,
          [id, JSON.stringify(chunk)],
        );
      }
      return record;
    });
  }

  /** Every ticket stream's last event, sorted by stream id in byte order (what `foldHeads` wants). */
  async currentHeads(): Promise<DigestHead[]> {
    return (await this.store.streamHeads({ streamPrefix: TICKET_STREAM_PREFIX })).sort(byStreamId);
  }

  /** A page of digests, newest first; `after` is the last digest of the previous page. */
  async page(limit: number, after: { createdAt: string; id: string } | undefined): Promise<{ items: DigestRecord[]; more: boolean }> {
    const rows = await this.db.query<DigestRow>(
      `SELECT ${DIGEST_COLUMNS} FROM audit_digests
        WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid)
        ORDER BY created_at DESC, id DESC LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    return { items: rows.slice(0, limit).map(toRecord), more: rows.length > limit };
  }

  async byId(id: string): Promise<DigestRecord | undefined> {
    const [row] = await this.db.query<DigestRow>(`SELECT ${DIGEST_COLUMNS} FROM audit_digests WHERE id = $1::uuid`, [id]);
    return row && toRecord(row);
  }

  /** The heads a digest covered, in byte order of stream id, at most `limit` after `afterStreamId`. */
  async heads(id: string, afterStreamId: string, limit: number): Promise<DigestHead[]> {
    const rows = await this.db.query<{ stream_id: string; revision: number; hash: string }>(
      `SELECT stream_id, revision, hash FROM audit_digest_heads
        WHERE digest_id = $1::uuid AND stream_id > $2 ORDER BY stream_id LIMIT $3`,
      [id, afterStreamId, limit],
    );
    return rows.map((row) => ({ streamId: row.stream_id, revision: Number(row.revision), hash: row.hash }));
  }

  /**
   * Compares a kept digest with the streams as stored now: its signature, whether its stored
   * heads still fold to the signed digest, and each covered stream (`classifyHead`). Streams
   * begun since are counted as `added`. Reads every stream's head, then, for the streams grown
   * since, their event at the kept revision (`EventStore.headsAt`).
   */
  async check(record: DigestRecord): Promise<DigestCheck> {
    const kept = await this.heads(record.id, '', Number.MAX_SAFE_INTEGER);
    const current = new Map((await this.store.streamHeads({ streamPrefix: TICKET_STREAM_PREFIX })).map((head) => [head.streamId, head]));
    // A stream grown since keeps the kept head only if its event at that revision still has that hash.
    const grown = kept.filter((head) => (current.get(head.streamId)?.revision ?? -1) > head.revision);
    const atKeptRevision = new Map((await this.store.headsAt(grown)).map((head) => [head.streamId, head]));
    const headsMatchDigest =
      kept.length === record.streams && foldHeads(kept) === record.digest && statementDigest(record.statement) === record.digest;
    const keptIds = new Set(kept.map((head) => head.streamId));
    const added = [...current.keys()].filter((streamId) => !keptIds.has(streamId)).length;
    const counts = { covered: kept.length, unchanged: 0, extended: 0, rewritten: 0, truncated: 0, missing: 0, added };
    const missing: string[] = [];
    const truncated: Array<DigestCheck['truncated'][number]> = [];
    const rewritten: Array<DigestCheck['rewritten'][number]> = [];
    const extended: Array<DigestCheck['extended'][number]> = [];
    for (const head of kept) {
      const now = current.get(head.streamId);
      const headRevision = now?.revision ?? null;
      const currentHash = hashAt(head.revision, now, atKeptRevision.get(head.streamId));
      const change = classifyHead(head, { headRevision, hashAtKeptRevision: currentHash });
      counts[change] += 1;
      if (change === 'missing' && missing.length < CHECK_LIST_LIMIT) missing.push(head.streamId);
      if (change === 'truncated' && truncated.length < CHECK_LIST_LIMIT) truncated.push({ streamId: head.streamId, revision: head.revision, currentRevision: headRevision! });
      if (change === 'rewritten' && rewritten.length < CHECK_LIST_LIMIT) {
        rewritten.push({ streamId: head.streamId, revision: head.revision, keptHash: head.hash, currentHash: currentHash! });
      }
      if (change === 'extended' && extended.length < CHECK_LIST_LIMIT) extended.push({ streamId: head.streamId, revision: head.revision, currentRevision: headRevision! });
    }
    const signature = this.checkSignature(record);
    const tampered = (['unchanged', 'extended', 'rewritten', 'truncated', 'missing'] as const).some((change) => isTampering(change) && counts[change] > 0);
    return {
      digestId: record.id,
      createdAt: record.createdAt,
      checkedAt: this.clock.now().toISOString(),
      valid: headsMatchDigest && signature !== 'invalid' && !tampered,
      signature,
      headsMatchDigest,
      counts,
      missing,
      truncated,
      rewritten,
      extended,
    };
  }

  private checkSignature(record: DigestRecord): DigestCheck['signature'] {
    if (!this.signingKey.available || record.publicKeyFingerprint !== this.signingKey.fingerprint()) return 'other-key';
    const publicKey = createPublicKey(this.signingKey.privateKey());
    return verifyStatement(record.statement, record.signature, publicKey) ? 'valid' : 'invalid';
  }
}

/** The stored hash of a stream's event at `revision`: its head's when the head is there, else the one looked up; null when it holds none. */
function hashAt(revision: number, head: ChainHead | undefined, atRevision: ChainHead | undefined): string | null {
  if (head?.revision === revision) return head.hash;
  return atRevision?.hash ?? null;
}

function toRecord(row: DigestRow): DigestRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    trigger: row.trigger,
    requestedBy: row.requested_by,
    streams: Number(row.streams),
    digest: row.digest,
    algorithm: 'Ed25519',
    statement: row.statement,
    signature: row.signature,
    publicKeyFingerprint: row.public_key_fingerprint,
  };
}
