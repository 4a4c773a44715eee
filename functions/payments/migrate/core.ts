// Invoked before each code deploy (README "Upgrading a deployed region"): applies the embedded
// migrations on a dedicated connection, then verifies that the application role can run the
// write path's writer identity check, so that a cluster that cannot fails the deploy, not every
// payment (review 24-10l H1).
import { DATABASE_APP_USER } from "../../common/contract";
import { loadMigrations, migrate } from "../shared/migrator";
import type { MigrationClient, MigrationFile, MigrationResult } from "../shared/migrator";
import { WRITER_IDENTITY_FUNCTIONS } from "../shared/writer-identity";

export interface MigrateDeps {
  readonly files: readonly MigrationFile[];
  readonly connect: () => Promise<MigrationClient & { end(): Promise<void> }>;
  /**
   * Verify (and grant) the writer identity check's functions for the application role: on
   * Aurora (writer-identity.ts writerIdentityMode). @default false - plain PostgreSQL has no
   * aurora_db_instance_identifier() and its payment path runs no check
   */
  readonly verifyWriterIdentity?: boolean;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
}

/** The cluster cannot run the writer identity check as the application role: fix it, then deploy. */
export class WriterIdentityUnsupportedError extends Error {
  override name = "WriterIdentityUnsupportedError";
}

/**
 * Each function the check calls must exist (aurora_db_instance_identifier() does from Aurora
 * PostgreSQL 13.7, 12.11, 11.16, 10.21 and every later major,
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html)
 * and the application role must be able to EXECUTE it. AWS documents no privilege for it, so
 * the master user grants EXECUTE explicitly (a no-op where PUBLIC already has it) and then
 * verifies with has_function_privilege, which answers for the role's own and PUBLIC's grants
 * (https://www.postgresql.org/docs/16/functions-info.html). A GRANT the master may not give
 * only warns, so the verification, not the GRANT, decides.
 */
export async function verifyWriterIdentityFunctions(
  client: MigrationClient,
  role: string = DATABASE_APP_USER,
): Promise<void> {
  for (const fn of WRITER_IDENTITY_FUNCTIONS) {
    const { rows } = await client.query("SELECT to_regprocedure($1) IS NOT NULL AS present", [fn]);
    if (rows[0]?.present !== true) {
      throw new WriterIdentityUnsupportedError(
        `${fn} does not exist on this cluster: every payment write's writer identity check calls it. Upgrade the engine to Aurora PostgreSQL 13.7, 12.11, 11.16, 10.21 or later within those majors, or any 14.x and later (DB_ENGINE_VERSION), then run the migrate function again`,
      );
    }
    const granted = async () =>
      (
        await client.query("SELECT has_function_privilege($1, $2, 'EXECUTE') AS granted", [
          role,
          fn,
        ])
      ).rows[0]?.granted === true;
    if (await granted()) continue;
    // fn is one of our own literals ("name()"), never input.
    await client.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${role}`);
    if (!(await granted())) {
      throw new WriterIdentityUnsupportedError(
        `${role} may not EXECUTE ${fn} and the migrate function's user could not grant it: every payment write's writer identity check calls it as ${role}. Grant it as a user that may (GRANT EXECUTE ON FUNCTION ${fn} TO ${role}), then run the migrate function again`,
      );
    }
  }
}

export async function runMigrations(deps: MigrateDeps): Promise<MigrationResult> {
  const migrations = loadMigrations(deps.files);
  const client = await deps.connect();
  try {
    const result = await migrate(client, migrations);
    if (deps.verifyWriterIdentity) {
      await verifyWriterIdentityFunctions(client);
      deps.log?.("writer identity check verified for the application role", {
        functions: WRITER_IDENTITY_FUNCTIONS,
        role: DATABASE_APP_USER,
      });
    }
    return result;
  } finally {
    await client.end().catch(() => undefined);
  }
}
