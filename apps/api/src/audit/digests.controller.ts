import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { headLine } from '#audit';
import { LOGGER } from '#platform';
import { Allow, CurrentPrincipal, type Principal } from '../auth/roles.js';
import { decodeTimeIdCursor, DEFAULT_PAGE_LIMIT, encodeTimeIdCursor, PageQuery } from '../http/page-query.js';
import { problem, ProblemException } from '../http/problem.js';
import { AuditDigests, type DigestCheck, type DigestRecord } from './audit-digests.js';
import { DigestSigningKey } from './digest-signing-key.js';
import { StreamedResponse } from './streamed-response.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Heads read per query while `…/heads` streams. */
const HEADS_PAGE = 2_000;

/** `POST /v1/audit/digests` takes no fields: `{}` or no body; any field is a 400 (api.md: unknown fields are rejected). */
export class MakeDigestBody {}

/**
 * Signed digests of every ticket stream's head (api.md "Queries", issue 6 item 3). Auditors (and
 * admins) make and read them; making one and the public key need the signing key (503 without).
 */
@ApiTags('audit')
@Allow('auditor')
@Controller('v1/audit/digests')
export class DigestsController {
  constructor(
    private readonly digests: AuditDigests,
    private readonly signingKey: DigestSigningKey,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ description: 'the digest made now: id, createdAt, streams, digest, statement, signature (Ed25519, base64), publicKeyFingerprint' })
  async make(
    @Body() _body: MakeDigestBody,
    @CurrentPrincipal() principal: Principal | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DigestRecord> {
    // Only a scheduled digest can find its interval taken; one on demand is always stored.
    const made = (await this.digests.make({ trigger: 'on-demand', requestedBy: principal?.keyId ?? null }))!;
    response.setHeader('Location', `/v1/audit/digests/${made.id}`);
    return made;
  }

  @Get()
  @ApiOkResponse({ description: '{ items, nextCursor }: digests, newest first' })
  async list(@Query() query: PageQuery): Promise<{ items: DigestRecord[]; nextCursor: string | null }> {
    const after = query.cursor === undefined ? undefined : decodeTimeIdCursor(query.cursor);
    const page = await this.digests.page(query.limit ?? DEFAULT_PAGE_LIMIT, after && { createdAt: after.at, id: after.id });
    const last = page.items[page.items.length - 1];
    return { items: page.items, nextCursor: page.more && last ? encodeTimeIdCursor({ at: last.createdAt, id: last.id }) : null };
  }

  /** The operator's public key, for convenience: an auditor compares its fingerprint with the one the operator published. */
  @Get('public-key')
  @ApiOkResponse({ description: '{ algorithm, publicKey (SPKI PEM), fingerprint }' })
  publicKey(): { algorithm: 'Ed25519'; publicKey: string; fingerprint: string } {
    return { algorithm: 'Ed25519', publicKey: this.signingKey.publicKeyPem(), fingerprint: this.signingKey.fingerprint() };
  }

  @Get(':id')
  @ApiOkResponse({ description: 'one digest' })
  async get(@Param('id') id: string): Promise<DigestRecord> {
    return this.find(id);
  }

  /**
   * The heads the digest covered as the exact bytes it folds: `streamId:revision:hash` lines in
   * byte order of stream id, so `sha256sum` of this body is the digest.
   */
  @Get(':id/heads')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'text/plain: one `streamId:revision:hash` line per stream' })
  async heads(@Param('id') id: string, @Res() response: Response): Promise<void> {
    const digest = await this.find(id);
    response.status(200).type('text/plain; charset=utf-8');
    const out = new StreamedResponse(response);
    try {
      for (let after = ''; ; ) {
        const page = await this.digests.heads(digest.id, after, HEADS_PAGE);
        if (page.length === 0) break;
        if (!(await out.write(page.map(headLine).join('')))) return;
        after = page[page.length - 1]!.streamId;
      }
    } catch (error) {
      this.log.error({ err: String(error), digestId: digest.id }, 'digest heads failed midway; the connection is cut');
      out.abort();
      return;
    }
    out.end();
  }

  /** The kept digest against the streams as they are now: missing, rewritten, cut short, extended. */
  @Get(':id/check')
  @ApiOkResponse({ description: '{ valid, signature, headsMatchDigest, counts, missing, truncated, rewritten, extended }' })
  async check(@Param('id') id: string): Promise<DigestCheck> {
    return this.digests.check(await this.find(id));
  }

  private async find(id: string): Promise<DigestRecord> {
    const found = UUID.test(id) ? await this.digests.byId(id.toLowerCase()) : undefined;
    if (!found) throw new ProblemException(problem('not-found', 'no digest with this id'));
    return found;
  }
}
