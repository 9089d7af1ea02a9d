import { Injectable, type PipeTransform } from '@nestjs/common';
import { TicketNotFoundError } from '#ticket-domain';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** api.md: any id that matches no ticket is 404, malformed ids too. */
@Injectable()
export class TicketIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw new TicketNotFoundError(value);
    return value.toLowerCase();
  }
}
