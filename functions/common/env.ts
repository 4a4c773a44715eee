// Reading the environment once, at module load, so a bad deploy fails on the first call.

export class MissingEnvironmentError extends Error {
  override name = "MissingEnvironmentError";
}

/** The value of a required environment variable; throws naming the variable when it is unset. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === "") {
    throw new MissingEnvironmentError(`environment variable ${name} is required but not set`);
  }
  return value;
}

/** A whole-number environment variable with a default and bounds. */
export function intEnv(
  name: string,
  fallback: number,
  bounds: { min: number; max: number },
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new MissingEnvironmentError(
      `environment variable ${name}=${JSON.stringify(raw)} must be a whole number from ${bounds.min} to ${bounds.max}`,
    );
  }
  return value;
}
