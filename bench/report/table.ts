import type { Figure } from '../phases/context.js';
import type { CpuBreakdown } from '../infra/machine.js';
import type { LatencySummary } from '../infra/stats.js';
import { FIGURES, formatNumber, verdict } from './figures.js';

/** The figures against issue 3's targets, as printed and as docs/performance.md shows them. */
export function figuresTable(figures: readonly Figure[], quick: boolean): string {
  const rows = FIGURES.flatMap((spec) => {
    const figure = figures.find((f) => f.name === spec.name);
    if (!figure) return [];
    const { target, met } = verdict(spec, figure, figures);
    return [[spec.name, formatNumber(figure.value), spec.unit, target, met === null ? '' : met ? 'yes' : 'NO']];
  });
  const lines = table(['figure', 'value', 'unit', quick ? 'target (full runs)' : 'target', 'met'], rows, [false, true, false, false, false]);
  return lines.join('\n');
}

/** Where each load phase's time and CPU went: what to look at before tuning. */
export function diagnosticsTable(diagnostics: Readonly<Record<string, Readonly<Record<string, unknown>>>>): string {
  const rows: string[][] = [];
  for (const [phase, d] of Object.entries(diagnostics)) {
    const latency = d.latencyMs as LatencySummary | undefined;
    const cpu = d.cpu as CpuBreakdown | null | undefined;
    const errors = (d.errors as number | undefined) ?? 0;
    const ops = (d.operations as number | undefined) ?? (d.sent as number | undefined) ?? (d.events as number | undefined);
    const pct = (v: number | null | undefined) => (v === null || v === undefined ? '' : `${Math.round(v)}%`);
    const ours = cpu ? (cpu.postgres ?? 0) + Object.values(cpu.processes).reduce<number>((sum, v) => sum + (v ?? 0), 0) : null;
    const others = cpu?.machine === null || cpu?.machine === undefined || ours === null ? null : Math.max(0, cpu.machine - ours);
    rows.push([
      phase,
      ops === undefined ? '' : formatNumber(ops),
      String(errors),
      latency ? String(latency.p50) : '',
      latency ? String(latency.p99) : '',
      pct(cpu?.postgres),
      pct(cpu?.processes.service),
      pct(cpu?.processes.generator),
      pct(cpu?.processes.kafka),
      pct(cpu?.processes.bench),
      pct(others),
      pct(cpu?.machine),
    ]);
  }
  return table(
    ['phase', 'ops', 'errors', 'p50 ms', 'p99 ms', 'cpu postgres', 'service', 'load gen', 'kafka', 'bench', 'other', 'machine'],
    rows,
    [false, true, true, true, true, true, true, true, true, true, true, true],
  ).join('\n');
}

function table(header: readonly string[], rows: readonly string[][], right: readonly boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
