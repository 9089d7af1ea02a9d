import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pause } from './timing.js';

const root = new URL('../../', import.meta.url).pathname;
const LOCK = join(root, 'dist/.build-lock');
const STAMP = join(root, 'dist/.build-stamp');
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 5 * 60_000;

/**
 * `npm run build` for suites that spawn the built entry points, once: jest workers run suites
 * in parallel, and a second build rewriting dist/ under the first suite's running processes
 * (or beside its own build) breaks them. The build runs under a lock directory, and is skipped
 * while dist/ is newer than every source.
 */
export async function buildOnce(): Promise<void> {
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() - (statMs(LOCK) ?? Date.now()) > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      await pause(200);
    }
  }
  try {
    const built = statMs(STAMP);
    if (built !== undefined && ['apps', 'libs', 'bench'].every((dir) => newestSource(join(root, dir)) < built)) return;
    const started = new Date();
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    // Stamped with the build's start: a source saved during the build is built again next time.
    writeFileSync(STAMP, '');
    utimesSync(STAMP, started, started);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function statMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statMs(path) ?? 0);
  }
  return newest;
}
