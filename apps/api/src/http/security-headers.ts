import type { NextFunction, Request, Response } from 'express';

/** Nothing of the API is ever a page: no scripts, no frames, no forms, nothing loaded. */
const API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Swagger UI at /docs loads its own scripts and styles and sets inline styles; nothing from elsewhere. */
const DOCS_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Headers on every answer, errors included (issue 6 "hardening"): no MIME sniffing, no
 * referrer, no framing, a strict Content-Security-Policy, and no caching of API answers —
 * they carry personal data for some roles. The docs page's static files may be cached.
 */
export function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  const docs = req.path === '/docs' || req.path.startsWith('/docs/');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', docs ? DOCS_POLICY : API_POLICY);
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  if (!docs) res.setHeader('Cache-Control', 'no-store');
  next();
}
