import { describe, expect, it } from '@jest/globals';
import { PersonalDataErasedError } from '#personal-data';
import { toProblem } from './problem.js';

describe('toProblem', () => {
  it('answers a seal that lost a race with concurrent erasures as a 409 to retry, not a 500', () => {
    const answer = toProblem(new PersonalDataErasedError('cus_racing'));
    expect(answer).toMatchObject({ type: 'urn:ticketflow:problem:concurrency-conflict', status: 409 });
    // The customer id is a pseudonym, still no business of the caller's error body.
    expect(JSON.stringify(answer)).not.toContain('cus_racing');
  });

  it('answers anything unexpected with a fixed detail that tells nothing of the error', () => {
    const answer = toProblem(new Error('relation "api_keys" does not exist at /srv/app/dist/x.js:12'));
    expect(answer).toEqual({
      type: 'urn:ticketflow:problem:internal',
      title: expect.any(String),
      status: 500,
      detail: 'an unexpected error occurred; quote the correlation id when reporting it',
    });
  });
});
