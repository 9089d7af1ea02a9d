export * from './clock.js';
export * from './config.js';
export * from './infrastructure.js';
export * from './logger.js';
export * from './metrics.js';
export * from './role-health.js';
export * from './tokens.js';
export * from './data-dir-lock.js';
