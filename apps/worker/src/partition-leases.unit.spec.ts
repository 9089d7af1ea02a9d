import { describe, expect, it } from '@jest/globals';
import { planLeases, type LeaseRow } from './partition-leases.js';

const now = new Date('2026-03-01T08:00:00.000Z');
const live = new Date(now.getTime() + 1_000);
const expired = new Date(now.getTime() - 1);
const partitions = ['p0of6', 'p1of6', 'p2of6', 'p3of6', 'p4of6', 'p5of6'];
const held = (owner: string, names: readonly string[], expiresAt = live): LeaseRow[] => names.map((name) => ({ name, owner, expiresAt }));

describe('planLeases', () => {
  it('given no leases and one member, takes every partition', () => {
    expect(planLeases(partitions, [], 'a', 1, now)).toEqual({ keep: [], release: [], take: partitions });
  });

  it('given a worker holding all six when two more join, keeps its share of two and hands back the rest', () => {
    expect(planLeases(partitions, held('a', partitions), 'a', 3, now)).toEqual({ keep: ['p0of6', 'p1of6'], release: ['p2of6', 'p3of6', 'p4of6', 'p5of6'], take: [] });
  });

  it('given the others hold their shares, a newcomer takes only free partitions, up to its share', () => {
    const leases = [...held('a', ['p0of6', 'p1of6']), ...held('b', ['p2of6', 'p3of6'])];
    expect(planLeases(partitions, leases, 'c', 3, now)).toEqual({ keep: [], release: [], take: ['p4of6', 'p5of6'] });
    expect(planLeases(partitions, [...leases, ...held('c', ['p4of6'])], 'c', 3, now)).toEqual({ keep: ['p4of6'], release: [], take: ['p5of6'] });
  });

  it('given a dead worker whose leases expired, the survivors take them over up to their grown share', () => {
    const leases = [...held('a', ['p0of6', 'p1of6']), ...held('b', ['p2of6', 'p3of6']), ...held('c', ['p4of6', 'p5of6'], expired)];
    expect(planLeases(partitions, leases, 'a', 2, now)).toEqual({ keep: ['p0of6', 'p1of6'], release: [], take: ['p4of6'] });
    expect(planLeases(partitions, leases, 'a', 3, now).take).toEqual([]);
  });

  it('renews its own lease even when it expired, since nobody took it', () => {
    expect(planLeases(['p0of2', 'p1of2'], held('a', ['p0of2'], expired), 'a', 1, now)).toEqual({ keep: ['p0of2'], release: [], take: ['p1of2'] });
  });

  it('covers every partition once the members reach their shares, however many there are', () => {
    for (const members of [1, 2, 3, 4, 5, 6, 7]) {
      const owners = Array.from({ length: members }, (_, i) => `w${i}`);
      let leases: LeaseRow[] = [];
      for (const owner of owners) leases = [...leases, ...held(owner, planLeases(partitions, leases, owner, members, now).take)];
      expect(leases.map((l) => l.name).sort()).toEqual(partitions);
    }
  });
});
