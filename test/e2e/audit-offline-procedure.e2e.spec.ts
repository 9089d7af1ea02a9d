import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { PgliteDatabase } from '#database';
import { freshPglite } from '../support/pglite.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { classify, openTicket } from './audit-helpers.js';

const run = promisify(execFile);
const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));

/** The fenced blocks of docs/audit.md whose info string is `bash <who>`, in order. */
async function documentedCommands(who: 'operator' | 'auditor'): Promise<string> {
  const doc = await readFile(join(REPOSITORY, 'docs/audit.md'), 'utf8');
  const blocks = [...doc.matchAll(/^```bash (\w+)\n([\s\S]*?)^```$/gm)].filter((match) => match[1] === who).map((match) => match[2]!);
  expect(blocks.length).toBeGreaterThan(0);
  return blocks.join('\n');
}

/** Runs commands as the doc gives them, in bash with errexit and pipefail, in `cwd`. */
async function bash(script: string, cwd: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { ...process.env, ...env }, timeout: 60_000 });
  return stdout;
}

/**
 * docs/audit.md must work word for word: its operator commands make the signing key the service
 * is started with, and its auditor commands (curl, jq, sha256sum, openssl, verify-chain.mjs) run
 * against the live service over HTTP and come out clean; the chain script then catches a change.
 */
describe('docs/audit.md: the offline verification, word for word', () => {
  let t: TestApp;
  let db: PgliteDatabase;
  let folder: string;
  let api: string;
  let ticket: string;
  let auditorKey: string;
  let operatorOutput: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'ticketflow-audit-doc-'));
    await copyFile(join(REPOSITORY, 'deploy/audit/verify-chain.mjs'), join(folder, 'verify-chain.mjs'));
    operatorOutput = await bash(await documentedCommands('operator'), folder);
    // The service reads TICKETFLOW_AUDIT_SIGNING_KEY from its environment at start.
    process.env.TICKETFLOW_AUDIT_SIGNING_KEY = await readFile(join(folder, 'audit-signing-key.pem'), 'utf8');
    try {
      db = await freshPglite();
      t = await startTestApp({ db });
    } finally {
      delete process.env.TICKETFLOW_AUDIT_SIGNING_KEY;
    }
    await t.app.listen(0, '127.0.0.1');
    api = `http://127.0.0.1:${(t.http.address() as AddressInfo).port}`;
    ticket = await openTicket(t);
    await classify(t, ticket);
    await openTicket(t, 'Wang Fang');
    auditorKey = (await t.as('admin').post('/v1/api-keys').send({ name: 'doc auditor', roles: ['auditor'] }).expect(201)).body.key;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await db?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('the auditor’s commands verify the key, the signature, the digest, the chain and the comparison', async () => {
    const output = await bash(await documentedCommands('auditor'), folder, { API: api, AUDITOR_KEY: auditorKey, TICKET: ticket });
    // Step 1: the operator's fingerprint is the service's.
    const fingerprint = /^([0-9a-f]{64}) {2}-$/m.exec(operatorOutput)![1]!;
    expect(output).toContain(`sha256:${fingerprint}`);
    // Steps 3 and 4: OpenSSL accepts the signature; the heads fold to the signed digest.
    expect(output).toContain('Signature Verified Successfully');
    const digest = JSON.parse(await readFile(join(folder, 'digest.json'), 'utf8'));
    expect(output).toContain(`digest recomputed: ${digest.digest}`);
    expect(output).toContain('heads: 2, statement: 2');
    // Step 5: the chain holds, on the history and on the export, and the kept head stands.
    expect(output).toMatch(new RegExp(`^ok {5}ticket-${ticket} revisions 0\\.\\.1, head 1:`, 'm'));
    expect(output).toContain(`ticket-${ticket} kept head 1:`);
    expect(output).toContain('end line: 1 streams, 2 events');
    expect(output).not.toContain('BROKEN');
    // Step 6: nothing missing, nothing rewritten.
    expect(output).toContain('missing streams: none');
    expect(output).toContain('rewritten or cut short: none');
  });

  it('the chain script fails, naming the revision, on a history with one changed field', async () => {
    const history = JSON.parse(await readFile(join(folder, 'history.json'), 'utf8'));
    history.events[1].data.category = 'general-consultation';
    await writeFile(join(folder, 'tampered.json'), JSON.stringify(history));
    const failed = await bash('node verify-chain.mjs tampered.json', folder).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain(`BROKEN ticket-${ticket} at revision 1: hash does not match the content`);
  });

  it('the chain script reads a kept head the stream no longer reaches as truncated', async () => {
    const history = JSON.parse(await readFile(join(folder, 'history.json'), 'utf8'));
    history.events.pop();
    await writeFile(join(folder, 'cut.json'), JSON.stringify(history));
    const failed = await bash('node verify-chain.mjs --kept heads.txt cut.json', folder).then(
      () => undefined,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain(`ticket-${ticket} kept head 1: the stream now ends at revision 0 (truncated)`);
  });
});
