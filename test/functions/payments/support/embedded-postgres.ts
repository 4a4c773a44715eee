// Moved to scripts/embedded-postgres.ts (npm run db:local uses it too); kept for old imports.
export { startEmbeddedPostgres } from "../../../../scripts/embedded-postgres";
export type { EmbeddedServer } from "../../../../scripts/embedded-postgres";
