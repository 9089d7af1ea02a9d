import { bootstrap } from '../../api/src/bootstrap.js';

/** The worker process: projector, SLA watcher and relay, with health and metrics over HTTP. */
await bootstrap('worker');
