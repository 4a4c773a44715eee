// Plain JS so jest needs no ts-node to read it.
/** @type {import("jest").Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Transpile only (isolatedModules in tsconfig.json); `npm run typecheck` (tsc --noEmit) does the type checking.
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  // One embedded PostgreSQL for the payment function tests (skipped when none is selected).
  globalSetup: "<rootDir>/test/functions/payments/support/global-setup.ts",
  globalTeardown: "<rootDir>/test/functions/payments/support/global-teardown.ts",
  testTimeout: 30_000,
  // Both cores: the default (cores - 1) leaves one idle on a 2-core machine.
  maxWorkers: 2,
};
