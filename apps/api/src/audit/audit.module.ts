import type { Provider, Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import type { Logger } from 'pino';
import { CONFIG, LOGGER, type TicketflowConfig } from '#platform';
import { AccessLogController } from './access-log.controller.js';
import { AccessLogInterceptor } from './access-log.interceptor.js';
import { AccessLog } from './access-log.js';
import { AuditDigests } from './audit-digests.js';
import { AuditExportController } from './audit-export.controller.js';
import { AuditTables } from './audit-tables.js';
import { DIGEST_INTERVAL_MS, DigestSchedule, loadDigestInterval } from './digest-schedule.js';
import { DigestSigningKey } from './digest-signing-key.js';
import { DigestsController } from './digests.controller.js';
import { TicketVerificationController } from './ticket-verification.controller.js';

/**
 * The auditor's tools (issue 6 item 3): registered by AppModule when the `api` role runs.
 * Their tables are created at start by `AuditTables` (CREATE TABLE IF NOT EXISTS, as the vault
 * does), so they need no migration registered elsewhere. TICKETFLOW_AUDIT_SIGNING_KEY and
 * AUDIT_DIGEST_INTERVAL are read from `process.env` here, validated at start.
 */
export const AUDIT_CONTROLLERS: Type[] = [TicketVerificationController, AuditExportController, DigestsController, AccessLogController];

export const AUDIT_PROVIDERS: Provider[] = [
  AuditTables,
  AccessLog,
  AuditDigests,
  DigestSchedule,
  {
    provide: DigestSigningKey,
    useFactory: (config: TicketflowConfig, log: Logger) =>
      DigestSigningKey.load({ env: process.env, dataDir: config.dataDir, embedded: config.embedded, log }),
    inject: [CONFIG, LOGGER],
  },
  { provide: DIGEST_INTERVAL_MS, useFactory: () => loadDigestInterval(process.env) },
  { provide: APP_INTERCEPTOR, useClass: AccessLogInterceptor },
];
