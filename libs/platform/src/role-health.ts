import { Injectable } from '@nestjs/common';

/** What readiness reports of the projector role in this process. */
@Injectable()
export class ProjectorHealth {
  state: 'off' | 'starting' | 'running' | 'failing' = 'off';
}
