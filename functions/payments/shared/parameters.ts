// SSM parameters under PARAMETER_PREFIX, read in one call at cold start and cached for
// PARAMETER_CACHE_SECONDS. When a refresh fails the last good values keep serving (an SSM
// hiccup must not take payments down); only a cold start without any values fails.
import { ParametersUnavailableError } from "./errors";

/** Fetches full parameter names; returns name -> value and throws when any is missing. */
export type ParameterFetcher = (names: readonly string[]) => Promise<ReadonlyMap<string, string>>;

export interface ParameterCacheOptions {
  /** `/payments/<suffix>` */
  readonly prefix: string;
  /** Keys under the prefix, e.g. PARAMETERS.writerEndpoint. */
  readonly keys: readonly string[];
  readonly fetch: ParameterFetcher;
  readonly ttlMs: number;
  /** After a failed refresh, wait this long before asking SSM again. @default 5000 */
  readonly retryMs?: number;
  readonly now?: () => number;
  readonly onStale?: (error: unknown) => void;
}

export function parameterName(prefix: string, key: string): string {
  return `${prefix.replace(/\/+$/, "")}/${key}`;
}

export class ParameterCache {
  #values?: ReadonlyMap<string, string>;
  #expiresAt = 0;
  #inflight?: Promise<ReadonlyMap<string, string>>;
  private readonly now: () => number;

  constructor(private readonly options: ParameterCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** key (as in PARAMETERS) -> value. */
  async get(): Promise<ReadonlyMap<string, string>> {
    if (this.#values && this.now() < this.#expiresAt) return this.#values;
    // Concurrent callers share one SSM request.
    this.#inflight ??= this.refresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async value(key: string): Promise<string> {
    const value = (await this.get()).get(key);
    if (value === undefined) throw new ParametersUnavailableError(`parameter ${key} is not loaded`);
    return value;
  }

  /** The next get() reads SSM again (e.g. the database endpoint looks stale). */
  invalidate(): void {
    this.#expiresAt = 0;
  }

  private async refresh(): Promise<ReadonlyMap<string, string>> {
    const { prefix, keys } = this.options;
    try {
      const fetched = await this.options.fetch(keys.map((key) => parameterName(prefix, key)));
      const values = new Map(keys.map((key) => [key, fetched.get(parameterName(prefix, key))]));
      const missing = keys.filter((key) => values.get(key) === undefined);
      if (missing.length > 0) {
        throw new ParametersUnavailableError(`parameters missing: ${missing.join(", ")}`);
      }
      this.#values = values as ReadonlyMap<string, string>;
      this.#expiresAt = this.now() + this.options.ttlMs;
      return this.#values;
    } catch (error) {
      if (this.#values) {
        this.options.onStale?.(error);
        this.#expiresAt = this.now() + (this.options.retryMs ?? 5_000);
        return this.#values;
      }
      if (error instanceof ParametersUnavailableError) throw error;
      throw new ParametersUnavailableError(
        `cannot read parameters under ${prefix}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
