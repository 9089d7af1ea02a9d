import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem } from './problem.js';

/**
 * Requests Node's HTTP parser refuses before any middleware sees them (a malformed request
 * line or header, a body cut short of its Content-Length, headers too large) get a
 * problem+json answer too (api.md "Conventions"), instead of Node's bare `400 Bad Request`.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // A peer that went away cannot read an answer.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refused =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? problem('validation', 'the request headers are too large')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? problem('validation', 'the request was not received in time')
          : problem('validation', 'the request is not valid HTTP/1.1');
    const body = JSON.stringify(refused);
    socket.end(
      [
        'HTTP/1.1 400 Bad Request',
        'Content-Type: application/problem+json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'X-Content-Type-Options: nosniff',
        'Cache-Control: no-store',
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  });
}
