// Invoked before each code deploy (README "Upgrading a deployed region"): applies the embedded
// migrations on a dedicated connection.
import { loadMigrations, migrate } from "../shared/migrator";
import type { MigrationClient, MigrationFile, MigrationResult } from "../shared/migrator";

export interface MigrateDeps {
  readonly files: readonly MigrationFile[];
  readonly connect: () => Promise<MigrationClient & { end(): Promise<void> }>;
}

export async function runMigrations(deps: MigrateDeps): Promise<MigrationResult> {
  const migrations = loadMigrations(deps.files);
  const client = await deps.connect();
  try {
    return await migrate(client, migrations);
  } finally {
    await client.end().catch(() => undefined);
  }
}
