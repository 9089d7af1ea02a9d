import { readFile } from 'node:fs/promises';
import { PgliteDatabase } from '#database';
import { PGLITE_TEMPLATE_ENV } from './global-setup.js';

let templateUnusable = false;

/**
 * An in-memory PGlite of the test's own. It is a copy of the template the global setup
 * made once (about 0.5 s instead of 3–5 s for a fresh initdb); without a usable template
 * it falls back to a fresh instance. The caller closes it.
 */
export async function freshPglite(): Promise<PgliteDatabase> {
  const templatePath = process.env[PGLITE_TEMPLATE_ENV];
  if (templatePath && !templateUnusable) {
    try {
      return await PgliteDatabase.open({ loadDataDir: new Blob([await readFile(templatePath)]) });
    } catch (error) {
      templateUnusable = true;
      process.stderr.write(`[pglite] template ${templatePath} unusable (${String(error)}); starting fresh instances\n`);
    }
  }
  return PgliteDatabase.open();
}
