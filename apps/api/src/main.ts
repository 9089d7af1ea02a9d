import { x } from '#ticket-domain';
console.log('ok', x);
