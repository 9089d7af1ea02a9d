import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Metrics } from '#platform';
import { Allow, Public } from '../auth/roles.js';

/** Prometheus text (api.md `/metrics`). */
@ApiExcludeController()
@Controller('metrics')
@Public('metrics-public')
@Allow()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
