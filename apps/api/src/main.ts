import { bootstrap } from './bootstrap.js';

/** `npm start`: the API and the worker roles in one process unless TICKETFLOW_ROLES says otherwise. */
await bootstrap('api,worker');
