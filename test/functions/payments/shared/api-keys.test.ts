import { ApiKeyVerifier } from "../../../../functions/payments/shared/api-keys";

describe("ApiKeyVerifier", () => {
  const verifier = new ApiKeyVerifier(async () => JSON.stringify(["key-one", "key-two"]));

  it.each(["key-one", "key-two"])("accepts %s", async (key) => {
    await expect(verifier.verify(key)).resolves.toBeUndefined();
  });

  it.each([undefined, "", "key-on", "key-one ", "KEY-ONE"])(
    "rejects %p with UnauthorizedError",
    async (key) => {
      await expect(verifier.verify(key)).rejects.toMatchObject({ name: "UnauthorizedError" });
    },
  );

  it.each(["not json", "{}", '["ok", 3]', '[""]'])(
    "fails with ParametersUnavailableError when api/keys is %s",
    async (raw) => {
      const broken = new ApiKeyVerifier(async () => raw);

      await expect(broken.verify("ok")).rejects.toMatchObject({
        name: "ParametersUnavailableError",
      });
    },
  );

  it("follows a rotated key list", async () => {
    let keys = ["old-key"];
    const rotating = new ApiKeyVerifier(async () => JSON.stringify(keys));
    await rotating.verify("old-key");

    keys = ["new-key"];

    await expect(rotating.verify("old-key")).rejects.toMatchObject({ name: "UnauthorizedError" });
    await expect(rotating.verify("new-key")).resolves.toBeUndefined();
  });
});
