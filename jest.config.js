// Plain JS so jest needs no ts-node to read it.
/** @type {import("jest").Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Transpile only (isolatedModules in tsconfig.json); `npm run typecheck` (tsc --noEmit) does the type checking.
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  testTimeout: 30_000,
};
