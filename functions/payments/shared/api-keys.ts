// API key check: the x-api-key header must equal one of the keys in the SSM SecureString
// api/keys (a JSON array of strings). Keys are compared as SHA-256 digests with
// timingSafeEqual, against every key without stopping early, so timing reveals neither a
// key's content nor which key matched.
import { createHash, timingSafeEqual } from "node:crypto";
import { ParametersUnavailableError, UnauthorizedError } from "./errors";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

export function parseApiKeys(json: string): readonly string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ParametersUnavailableError("api/keys is not valid JSON");
  }
  if (!Array.isArray(parsed) || !parsed.every((k) => typeof k === "string" && k.length > 0)) {
    throw new ParametersUnavailableError("api/keys must be a JSON array of non-empty strings");
  }
  return parsed as string[];
}

export class ApiKeyVerifier {
  #source?: string;
  #digests: readonly Buffer[] = [];

  /** `load` returns the raw api/keys parameter (cached by the caller). */
  constructor(private readonly load: () => Promise<string>) {}

  async verify(presented: string | undefined): Promise<void> {
    const raw = await this.load();
    if (raw !== this.#source) {
      this.#digests = parseApiKeys(raw).map(digest);
      this.#source = raw;
    }
    if (presented === undefined || presented === "") throw new UnauthorizedError();
    const candidate = digest(presented);
    let matched = false;
    for (const key of this.#digests) {
      // Non-short-circuiting: every key is compared.
      matched = timingSafeEqual(candidate, key) || matched;
    }
    if (!matched) throw new UnauthorizedError();
  }
}
