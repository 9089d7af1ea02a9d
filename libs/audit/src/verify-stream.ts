import { GENESIS_HASH, verifyChain, type EventEnvelope } from '#event-store';

/** What `GET /v1/tickets/{id}/verification` answers (api.md "Queries"). */
export interface StreamVerification {
  readonly valid: boolean;
  /** How many events the stream holds (all of them were checked). */
  readonly events: number;
  /**
   * The stored hash of the stream's last event: what a signed digest folds for this stream.
   * 64 zeros for an empty stream.
   */
  readonly headHash: string;
  /** The first revision whose envelope does not hold: a gap, a broken link or a hash that does not recompute. */
  readonly firstInvalidRevision?: number;
  /** Why the chain breaks there, in words. */
  readonly reason?: string;
}

/**
 * Recomputes one stream's hash chain from its stored envelopes (design.md "Event envelope"):
 * revisions run 0..n-1 without a gap, the first `prevHash` is 64 zeros, every `prevHash` is the
 * previous event's `hash`, and every `hash` is SHA-256 over `prevHash` and the RFC 8785 canonical
 * JSON of the envelope without `position` and `hash`. `envelopes` must be in revision order, as
 * `EventStore.readStream` gives them. Pure and synchronous: the bench's `audit.verify` times it.
 *
 * Deleting a stream's last events leaves what remains valid: only a digest kept outside
 * (`foldHeads`, `compareHeads`) catches that.
 */
export function verifyStream(envelopes: readonly EventEnvelope[]): StreamVerification {
  const chain = verifyChain(envelopes);
  const headHash = envelopes.length > 0 ? envelopes[envelopes.length - 1]!.hash : GENESIS_HASH;
  if (chain.valid) return { valid: true, events: envelopes.length, headHash };
  return {
    valid: false,
    events: envelopes.length,
    headHash,
    firstInvalidRevision: chain.firstInvalidRevision!,
    reason: chain.reason!,
  };
}
