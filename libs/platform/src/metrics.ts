import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process (api.md `/metrics`). */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'ticketflow_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'ticketflow_http_request_duration_seconds',
    help: 'HTTP request latency, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly grpcRequests = new Counter({
    name: 'ticketflow_grpc_requests_total',
    help: 'gRPC calls answered, by rpc and status code name',
    labelNames: ['rpc', 'code'] as const,
    registers: [this.registry],
  });

  readonly grpcDuration = new Histogram({
    name: 'ticketflow_grpc_request_duration_seconds',
    help: 'gRPC call latency, by rpc',
    labelNames: ['rpc'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly appends = new Counter({
    name: 'ticketflow_event_store_appends_total',
    help: 'Appends to the event store, by outcome (appended, duplicate, conflict)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly appendedEvents = new Counter({
    name: 'ticketflow_event_store_appended_events_total',
    help: 'Events appended to the event store',
    registers: [this.registry],
  });

  readonly projectionLagEvents = new Gauge({
    name: 'ticketflow_projection_lag_events',
    help: 'Events in the store not yet applied by the projection',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  readonly projectionLagSeconds = new Gauge({
    name: 'ticketflow_projection_lag_seconds',
    help: 'Age of the oldest event not yet applied by the projection (0 when caught up)',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  /** From an event's recordedAt (its append) to the commit of the read-model rows that show it. */
  readonly projectionDelay = new Histogram({
    name: 'ticketflow_projection_delay_seconds',
    help: 'Time from an event being appended to the projection committing it',
    labelNames: ['projection'] as const,
    buckets: [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly projectedEvents = new Counter({
    name: 'ticketflow_projection_events_total',
    help: 'Events applied by the projection',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  /** Set by the SLA watcher role: counts the open clocks into `slaOpenClocks` when /metrics is scraped. */
  countOpenClocks?: () => Promise<void>;

  readonly slaOpenClocks: Gauge<'state'> = new Gauge({
    name: 'ticketflow_sla_open_clocks',
    help: 'Running SLA clock cycles by state at the scrape (running, warning recorded, breached); served by processes running the SLA watcher',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: async () => {
      await this.countOpenClocks?.().catch(() => undefined);
    },
  });

  readonly slaAlarms = new Counter({
    name: 'ticketflow_sla_alarms_total',
    help: 'ticket.sla-warning and ticket.sla-breached events the SLA watcher appended, by kind and clock',
    labelNames: ['kind', 'clock'] as const,
    registers: [this.registry],
  });

  /** From the moment a warning or breach became due to the append of its event. */
  readonly slaWatcherLag = new Histogram({
    name: 'ticketflow_sla_watcher_lag_seconds',
    help: 'Time from an SLA warning or breach becoming due to the watcher appending its event',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly relayLagEvents = new Gauge({
    name: 'ticketflow_relay_lag_events',
    help: 'Ticket events in the store not yet published to Kafka (counted up to 1,000)',
    registers: [this.registry],
  });

  readonly relayLagSeconds = new Gauge({
    name: 'ticketflow_relay_lag_seconds',
    help: 'Now minus the recordedAt of the oldest event not yet published to Kafka (0 when caught up)',
    registers: [this.registry],
  });

  readonly relayPublished = new Counter({
    name: 'ticketflow_relay_published_events_total',
    help: 'Events the Kafka relay published (acknowledged by the broker)',
    registers: [this.registry],
  });

  readonly relayFailedSends = new Counter({
    name: 'ticketflow_relay_failed_sends_total',
    help: 'Sends to Kafka that failed (each is retried)',
    registers: [this.registry],
  });

  readonly relayState = new Gauge({
    name: 'ticketflow_relay_state',
    help: 'The Kafka relay state: 1 for the current one (starting, publishing, broker-unavailable, standby, stopped)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ticketflow_' });
  }
}
