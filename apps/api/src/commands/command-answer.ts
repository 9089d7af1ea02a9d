import { ApiProperty } from '@nestjs/swagger';

/** The body of every command's answer, for the OpenAPI document. */
export class CommandAnswer {
  @ApiProperty({ format: 'uuid' })
  ticketId: string;

  @ApiProperty({ description: "the ticket's revision after the command; also the ETag" })
  revision: number;

  @ApiProperty({ description: 'global position of the last appended event' })
  position: number;
}
