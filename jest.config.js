/**
 * Three kinds of test, told apart by file name (style.md §11):
 * *.unit.spec.ts (no I/O), *.int.spec.ts (real PostgreSQL / PGlite), *.e2e.spec.ts (the app over HTTP).
 */
const swc = [
  '@swc/jest',
  {
    swcrc: false,
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      keepClassNames: true,
    },
    module: { type: 'es6' },
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^#ticket-domain$': '<rootDir>/libs/ticket-domain/src/index.ts',
    '^#event-store$': '<rootDir>/libs/event-store/src/index.ts',
    '^#database$': '<rootDir>/libs/database/src/index.ts',
    '^#personal-data$': '<rootDir>/libs/personal-data/src/index.ts',
    '^#read-model$': '<rootDir>/libs/read-model/src/index.ts',
    '^#platform$': '<rootDir>/libs/platform/src/index.ts',
    '^#messaging$': '<rootDir>/libs/messaging/src/index.ts',
    '^#audit$': '<rootDir>/libs/audit/src/index.ts',
    '^#test-support$': '<rootDir>/test/support/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testEnvironment: 'node',
};

export default {
  maxWorkers: 2,
  // Integration and e2e suites start PGlite, migrate and boot Nest: generous on a loaded 2-core machine.
  testTimeout: 30_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.unit.spec.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.int.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  ],
};
