/**
 * The auditor's pure building blocks (issue 6), free of Nest and of any database: verifying a
 * stream's hash chain, folding stream heads into a digest, signing and checking it (Ed25519),
 * comparing kept heads with the current ones, and the export's JSON Lines.
 */
export * from './verify-stream.js';
export * from './digest.js';
export * from './head-comparison.js';
export * from './json-lines.js';
