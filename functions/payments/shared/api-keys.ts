// API keys, each bound to one merchant. The SSM SecureString api/keys holds the key store: a JSON
// array of { merchantId, sha256 } with the SHA-256 (hex) of each key, never the key itself, so
// reading the parameter does not reveal a usable key. A presented x-api-key is hashed and
// compared with timingSafeEqual against every entry without stopping early, so timing reveals
// neither a key's content nor which entry matched; the entry's merchant is who acts.
//
// A plain SHA-256 is enough here: keys are random strings of 32+ characters (Terraform validates
// them), so there is nothing to brute-force that a slow password hash would protect.
import { createHash, timingSafeEqual } from "node:crypto";
import { MERCHANT_ID_PATTERN } from "./validation";
import { ParametersUnavailableError, UnauthorizedError } from "./errors";

export interface ApiKeyEntry {
  readonly merchantId: string;
  /** SHA-256 of the key's UTF-8 bytes, lower-case hex. */
  readonly sha256: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/** The key store entry binding `key` to `merchantId` (what Terraform writes for each pair). */
export function apiKeyEntry(merchantId: string, key: string): ApiKeyEntry {
  return { merchantId, sha256: sha256Hex(key) };
}

/** Validates the api/keys parameter; a broken store refuses every request (503), loudly. */
export function parseApiKeys(json: string): readonly ApiKeyEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ParametersUnavailableError("api/keys is not valid JSON");
  }
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (e: unknown) =>
        typeof e === "object" &&
        e !== null &&
        typeof (e as ApiKeyEntry).merchantId === "string" &&
        MERCHANT_ID_PATTERN.test((e as ApiKeyEntry).merchantId) &&
        typeof (e as ApiKeyEntry).sha256 === "string" &&
        SHA256_HEX.test((e as ApiKeyEntry).sha256),
    );
  if (!valid) {
    throw new ParametersUnavailableError(
      'api/keys must be a JSON array of {"merchantId": "<merchant id>", "sha256": "<64 hex digits>"}',
    );
  }
  const entries = parsed as ApiKeyEntry[];
  // One key bound to two merchants would make the merchant depend on the order of the list.
  if (new Set(entries.map((e) => e.sha256)).size !== entries.length) {
    throw new ParametersUnavailableError("api/keys binds the same key more than once");
  }
  return entries;
}

export class ApiKeyVerifier {
  #source?: string;
  #entries: readonly { readonly merchantId: string; readonly digest: Buffer }[] = [];

  /** `load` returns the raw api/keys parameter (cached by the caller). */
  constructor(private readonly load: () => Promise<string>) {}

  /** The merchant the presented key is bound to; UnauthorizedError for any other key. */
  async verify(presented: string | undefined): Promise<string> {
    const raw = await this.load();
    if (raw !== this.#source) {
      this.#entries = parseApiKeys(raw).map((e) => ({
        merchantId: e.merchantId,
        digest: Buffer.from(e.sha256, "hex"),
      }));
      this.#source = raw;
    }
    if (presented === undefined || presented === "") throw new UnauthorizedError();
    const candidate = createHash("sha256").update(presented, "utf8").digest();
    let merchantId: string | undefined;
    for (const entry of this.#entries) {
      // Non-short-circuiting: every entry is compared.
      const hit = timingSafeEqual(candidate, entry.digest);
      merchantId = hit ? entry.merchantId : merchantId;
    }
    if (merchantId === undefined) throw new UnauthorizedError();
    return merchantId;
  }
}
