import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import type { SqlDatabase } from '#database';
import { CONFIG, type TicketflowConfig, SQL_DATABASE, ProjectorHealth, RelayHealth, SlaWatcherHealth } from '#platform';
import { problem } from '../http/problem.js';
import { Public } from '../auth/roles.js';

const DATABASE_CHECK_TIMEOUT_MS = 1_000;

/**
 * Liveness says the process answers; readiness covers only what this process's roles need
 * (design.md): the database for every role, a running subscription for the projector, a
 * watcher whose last pass succeeded for the SLA watcher, a relay that can publish for a process
 * whose only job is the relay.
 */
@ApiExcludeController()
@Controller('health')
@Public()
export class HealthController {
  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    @Inject(CONFIG) private readonly config: TicketflowConfig,
    private readonly projector: ProjectorHealth,
    private readonly slaWatcher: SlaWatcherHealth,
    private readonly relay: RelayHealth,
  ) {}

  @Get('live')
  @HttpCode(200)
  live(): { status: 'up' } {
    return { status: 'up' };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) response: Response): Promise<unknown> {
    const database = await Promise.race([
      this.db.query('SELECT 1').then(() => 'up' as const),
      new Promise<'down'>((resolve) => setTimeout(() => resolve('down'), DATABASE_CHECK_TIMEOUT_MS).unref()),
    ]).catch(() => 'down' as const);
    const checks: Record<string, string> = { database };
    if (this.config.roles.has('projector')) checks.projector = this.projector.state;
    if (this.config.roles.has('sla-watcher')) checks.slaWatcher = this.slaWatcher.state;
    if (this.relay.state !== 'off') checks.relay = this.relay.state;
    // design.md: the API stays ready while Kafka is down (the relay's state shows here); a
    // process without the API goes not-ready while its relay cannot publish.
    const relayReady = this.config.roles.has('api') || checks.relay === undefined || checks.relay === 'publishing' || checks.relay === 'standby';
    const ready = database === 'up' && relayReady && [checks.projector, checks.slaWatcher].every((state) => state === undefined || state === 'running');
    if (ready) return { status: 'ready', checks };
    response.status(503).type('application/problem+json');
    return problem('unavailable', 'not ready', { checks });
  }
}
