import { describe, expect, it } from '@jest/globals';
import { handlingBucketOf, handlingBucketUpperBound, histogramPercentile } from './kpi-histogram.js';
import { kpiFigures, type KpiSum } from './kpi-report.js';

describe('the handling-time histogram', () => {
  it('has bucket 0 up to a minute, then eight buckets per doubling, each holding (previous bound, own bound]', () => {
    expect(handlingBucketOf(0)).toBe(0);
    expect(handlingBucketOf(60)).toBe(0);
    expect(handlingBucketOf(60.001)).toBe(1);
    expect(handlingBucketOf(120)).toBe(8);
    expect(handlingBucketOf(120.001)).toBe(9);
    expect(handlingBucketUpperBound(8)).toBe(120);
    for (const seconds of [61, 90, 7200, 18_000, 108_000, 180_000, 2_000_000]) {
      const bucket = handlingBucketOf(seconds);
      expect(handlingBucketUpperBound(bucket)).toBeGreaterThanOrEqual(seconds);
      expect(handlingBucketUpperBound(bucket - 1)).toBeLessThan(seconds);
      // The documented error: the bound is at most 9.05 % above the time it stands for.
      expect(handlingBucketUpperBound(bucket) / seconds).toBeLessThan(1.0906);
    }
    expect(handlingBucketOf(1e12)).toBe(160);
  });

  it('reads the nearest-rank percentile as the upper bound of its bucket', () => {
    const counts = new Map([
      [handlingBucketOf(100), 5],
      [handlingBucketOf(1000), 4],
      [handlingBucketOf(100_000), 1],
    ]);
    // 10 times: the 9th is among the 1000-second ones.
    expect(histogramPercentile(counts, 0.9)).toBe(handlingBucketUpperBound(handlingBucketOf(1000)));
    expect(histogramPercentile(new Map([[handlingBucketOf(100_000), 1]]), 0.9)).toBe(handlingBucketUpperBound(handlingBucketOf(100_000)));
    expect(histogramPercentile(new Map(), 0.9)).toBeNull();
  });
});

describe('kpiFigures: a period from its summed rows', () => {
  it('states every rate with the counts it divides, and null where nothing was there to divide', () => {
    const figures = kpiFigures([], 4);
    expect(figures).toEqual({
      contacts: {
        total: 0,
        byChannel: { phone: 0, email: 0, online: 0 },
        byCategory: { 'general-consultation': 0, 'technical-issue': 0, 'system-failure': 0, 'security-issue': 0, 'service-complaint': 0, unclassified: 0 },
      },
      sla: {
        firstResponse: { met: 0, breached: 0, pending: 0, metRate: null },
        initialHandling: { met: 0, breached: 0, pending: 0, metRate: null },
        resolution: { met: 0, breached: 0, pending: 0, metRate: null },
        feedback: { met: 0, breached: 0, pending: 0, metRate: null },
      },
      complexClosedWithin48h: { tickets: 0, closedWithin48h: 0, share: null },
      handlingTime: {
        'general-consultation': { resolved: 0, averageSeconds: null, p90Seconds: null },
        'technical-issue': { resolved: 0, averageSeconds: null, p90Seconds: null },
        'system-failure': { resolved: 0, averageSeconds: null, p90Seconds: null },
        'security-issue': { resolved: 0, averageSeconds: null, p90Seconds: null },
        'service-complaint': { resolved: 0, averageSeconds: null, p90Seconds: null },
      },
      satisfaction: { ratings: 0, average: null, ratedAtLeast4: 0, shareAtLeast4: null },
      reopenRate: { feedbacks: 0, reopened: 0, rate: null },
      repeatRate: { contacts: 0, repeats: 0, rate: null },
      telephony: { calls: 0, averageConnectSeconds: null, averageWaitSeconds: null, connectedWithin3s: 0, shareConnectedWithin3s: null },
      openBacklog: 4,
    });
  });

  it('sums rows of several partitions and reads the figures off the sums', () => {
    const sums: KpiSum[] = [
      { metric: 'contacts-by-channel', dimension: 'phone', n: 3, total: 0 },
      { metric: 'contacts-by-channel', dimension: 'email', n: 1, total: 0 },
      { metric: 'contacts-by-category', dimension: 'technical-issue', n: 4, total: 0 },
      { metric: 'repeat', dimension: '', n: 1, total: 0 },
      { metric: 'clock', dimension: 'resolution:met', n: 3, total: 0 },
      { metric: 'clock', dimension: 'resolution:breached', n: 1, total: 0 },
      { metric: 'clock', dimension: 'resolution:pending', n: 2, total: 0 },
      { metric: 'handling', dimension: 'technical-issue', n: 2, total: 3_000_000 },
      { metric: 'handling-histogram', dimension: `technical-issue:${handlingBucketOf(1000)}`, n: 1, total: 0 },
      { metric: 'handling-histogram', dimension: `technical-issue:${handlingBucketOf(2000)}`, n: 1, total: 0 },
      { metric: 'feedback', dimension: '', n: 2, total: 7 },
      { metric: 'feedback-satisfied', dimension: '', n: 1, total: 0 },
      { metric: 'reopened', dimension: '', n: 1, total: 0 },
      { metric: 'telephony-connect', dimension: '', n: 3, total: 9000 },
      { metric: 'telephony-wait', dimension: '', n: 3, total: 4500 },
      { metric: 'telephony-connected-3s', dimension: '', n: 2, total: 0 },
    ];
    const figures = kpiFigures(sums, 0);
    expect(figures.contacts.total).toBe(4);
    expect(figures.sla.resolution).toEqual({ met: 3, breached: 1, pending: 2, metRate: 0.75 });
    expect(figures.handlingTime['technical-issue']).toEqual({ resolved: 2, averageSeconds: 1500, p90Seconds: handlingBucketUpperBound(handlingBucketOf(2000)) });
    expect(figures.satisfaction).toEqual({ ratings: 2, average: 3.5, ratedAtLeast4: 1, shareAtLeast4: 0.5 });
    expect(figures.reopenRate).toEqual({ feedbacks: 2, reopened: 1, rate: 0.5 });
    expect(figures.repeatRate).toEqual({ contacts: 4, repeats: 1, rate: 0.25 });
    expect(figures.telephony).toEqual({ calls: 3, averageConnectSeconds: 3, averageWaitSeconds: 1.5, connectedWithin3s: 2, shareConnectedWithin3s: 2 / 3 });
  });
});
