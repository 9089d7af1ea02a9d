import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnce } from '../support/build.js';

const root = new URL('../../', import.meta.url).pathname;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the service did not become ready');
}

const hasCurl = spawnSync('curl', ['--version']).status === 0;

/**
 * The README's curl session, word for word (only the port differs), against the built service
 * started as `npm start` starts it: embedded PGlite, no configuration.
 */
(hasCurl ? describe : describe.skip)('the README curl session', () => {
  let service: ChildProcess;
  let dataDir: string;
  let port: number;
  let output = '';

  beforeAll(async () => {
    await buildOnce();
    dataDir = await mkdtemp(join(tmpdir(), 'ticketflow-readme-'));
    port = await freePort();
    service = spawn(process.execPath, ['dist/apps/api/src/main.js'], {
      cwd: root,
      // GRPC_PORT 0: a free port, so a service already running here on 50051 does not stop the test.
      env: { PATH: process.env.PATH, PORT: String(port), GRPC_PORT: '0', TICKETFLOW_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    service.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 45_000);
  }, 90_000);

  afterAll(async () => {
    service?.kill('SIGTERM');
    await new Promise((r) => service?.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('works on the embedded default and prints where it listens', async () => {
    expect(output).toContain(`Ticketflow listening on http://localhost:${port}`);
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const block = /```bash\n(API=http:\/\/localhost:3000\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    // The quick start printed its dev admin key once; the session's KEY= line is where a reader pastes it.
    await until(async () => /tfk_/.test(output), 5_000);
    const keys = output.match(/tfk_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}/g) ?? [];
    expect(keys).toHaveLength(1);
    const session = block!.replace('http://localhost:3000', `http://localhost:${port}`).replace(/^KEY=.*$/m, `KEY=${keys[0]}`);
    const run = spawnSync('bash', ['-e', '-c', session], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ticket [0-9a-f-]{36}$/);
    expect(lines).toContain('archived');
    expect(lines).toContain('6');
    expect(lines[lines.length - 1]).toContain('urn:ticketflow:problem:validation');
  }, 60_000);
});
