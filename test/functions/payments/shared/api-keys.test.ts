import {
  ApiKeyVerifier,
  apiKeyEntry,
  sha256Hex,
} from "../../../../functions/payments/shared/api-keys";

const store = (entries: Record<string, string>) =>
  JSON.stringify(Object.entries(entries).map(([merchant, key]) => apiKeyEntry(merchant, key)));

describe("ApiKeyVerifier", () => {
  const verifier = new ApiKeyVerifier(async () =>
    store({ "merchant-a": "key-one-for-a", "merchant-b": "key-two-for-b" }),
  );

  it.each([
    ["key-one-for-a", "merchant-a"],
    ["key-two-for-b", "merchant-b"],
  ])("accepts %s as %s", async (key, merchant) => {
    await expect(verifier.verify(key)).resolves.toBe(merchant);
  });

  it.each([undefined, "", "key-one-for", "key-one-for-a ", "KEY-ONE-FOR-A"])(
    "rejects %p with UnauthorizedError",
    async (key) => {
      await expect(verifier.verify(key)).rejects.toMatchObject({ name: "UnauthorizedError" });
    },
  );

  it("keeps only hashes in the key store: the stored value is not a usable key", async () => {
    const raw = store({ "merchant-a": "key-one-for-a" });

    expect(raw).not.toContain("key-one-for-a");
    expect(JSON.parse(raw)).toEqual([
      { merchantId: "merchant-a", sha256: sha256Hex("key-one-for-a") },
    ]);
    await expect(
      new ApiKeyVerifier(async () => raw).verify(sha256Hex("key-one-for-a")),
    ).rejects.toMatchObject({ name: "UnauthorizedError" });
  });

  it.each([
    ["not JSON", "not json"],
    ["an object", "{}"],
    ["the old list of plain keys", '["key-one-for-a"]'],
    ["an entry without merchant", JSON.stringify([{ sha256: sha256Hex("k") }])],
    ["a bad merchant id", JSON.stringify([{ merchantId: "a b", sha256: sha256Hex("k") }])],
    ["a hash that is not hex", JSON.stringify([{ merchantId: "m", sha256: "k".repeat(64) }])],
    [
      "one key bound to two merchants",
      JSON.stringify([apiKeyEntry("m-1", "same-key"), apiKeyEntry("m-2", "same-key")]),
    ],
  ])("fails with ParametersUnavailableError when api/keys is %s", async (_label, raw) => {
    const broken = new ApiKeyVerifier(async () => raw);

    await expect(broken.verify("same-key")).rejects.toMatchObject({
      name: "ParametersUnavailableError",
    });
  });

  it("follows a rotated key store", async () => {
    let keys: Record<string, string> = { "merchant-a": "old-key-for-a" };
    const rotating = new ApiKeyVerifier(async () => store(keys));
    await rotating.verify("old-key-for-a");

    keys = { "merchant-a": "new-key-for-a" };

    await expect(rotating.verify("old-key-for-a")).rejects.toMatchObject({
      name: "UnauthorizedError",
    });
    await expect(rotating.verify("new-key-for-a")).resolves.toBe("merchant-a");
  });
});
