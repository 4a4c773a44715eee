import { ISO_4217_CURRENCIES } from "../../../functions/payments/shared/currencies";
import { RequestValidationError } from "../../../functions/payments/shared/errors";
import {
  MAX_BODY_BYTES,
  bodyText,
  canonicalJson,
  requestHash,
} from "../../../functions/payments/shared/http-api";
import { LEGAL_TRANSITIONS, planRefund } from "../../../functions/payments/shared/payment";
import type { Payment } from "../../../functions/payments/shared/payment";
import {
  looksLikePan,
  parseAmount,
  parseCurrency,
} from "../../../functions/payments/shared/validation";

describe("looksLikePan", () => {
  it.each([
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111 - 1111 - 1111 - 1111",
    "5500000000000005", // Luhn-invalid: still card-like
    "1234567890123", // 13 digits
    "1234567890123456789", // 19 digits
    "12345678901234567890123", // longer runs contain a PAN
    "tok_4111111111111111",
    "4111\t1111\n1111 1111",
  ])("flags %j", (value) => {
    expect(looksLikePan(value)).toBe(true);
  });

  it.each([
    "tok_visa_4242abcd",
    "123456789012", // 12 digits
    "4111 1111 1111 abc 1",
    "tok_2024_01_15_abc",
    "tok_9f8e7d6c5b4a",
  ])("accepts %j", (value) => {
    expect(looksLikePan(value)).toBe(false);
  });
});

describe("field rules", () => {
  it.each([1, 999, 1_000_000_000_000])("accepts the amount %d", (amount) => {
    expect(parseAmount(amount)).toBe(amount);
  });

  it.each([0, -1, 1.5, 1_000_000_000_001, Number.NaN, Infinity, "5", null, true])(
    "rejects the amount %p with 422",
    (amount) => {
      expect(() => parseAmount(amount)).toThrow(
        expect.objectContaining({ status: 422, code: "invalid_amount" }),
      );
    },
  );

  it("ships the circulating ISO 4217 currencies only", () => {
    expect(ISO_4217_CURRENCIES.size).toBe(156);
    for (const code of ["USD", "EUR", "JPY", "GBP", "XCG", "ZWG", "SLE"]) {
      expect(parseCurrency(code)).toBe(code);
    }
    for (const code of ["XAU", "XXX", "XTS", "HRK", "ZWL", "ANG", "usd", "US"]) {
      expect(() => parseCurrency(code)).toThrow(RequestValidationError);
    }
  });
});

describe("request bodies", () => {
  const request = (body: string, isBase64Encoded = false) => ({
    headers: {},
    body,
    isBase64Encoded,
    requestId: "req-test",
  });

  it("measures the limit in bytes after base64 decoding", () => {
    const exactly = "a".repeat(MAX_BODY_BYTES);
    const encoded = Buffer.from(exactly).toString("base64");

    expect(bodyText(request(encoded, true))).toBe(exactly);
    expect(() => bodyText(request(Buffer.from(`${exactly}a`).toString("base64"), true))).toThrow(
      expect.objectContaining({ code: "body_too_large" }),
    );
  });

  it("rejects bytes that are not UTF-8", () => {
    const latin1 = Buffer.from([0x7b, 0xe9, 0x7d]).toString("base64");

    expect(() => bodyText(request(latin1, true))).toThrow(
      expect.objectContaining({ status: 400, code: "malformed_body" }),
    );
  });
});

describe("request hashes", () => {
  it("ignores key order", () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    expect(requestHash({ a: 1, b: "x" })).toBe(requestHash({ b: "x", a: 1 }));
  });

  it("tells different requests apart", () => {
    expect(requestHash({ operation: "refund", amount: 1 })).not.toBe(
      requestHash({ operation: "refund", amount: 2 }),
    );
  });
});

describe("payment lifecycle", () => {
  const captured: Payment = {
    id: "p",
    merchantId: "m",
    amount: 1000,
    currency: "EUR",
    status: "captured",
    capturedAmount: 1000,
    refundedAmount: 0,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  it("allows exactly the documented transitions", () => {
    expect(LEGAL_TRANSITIONS).toEqual({
      authorized: ["captured", "voided"],
      captured: ["partially_refunded", "refunded"],
      partially_refunded: ["partially_refunded", "refunded"],
      refunded: [],
      voided: [],
    });
  });

  it("refunds up to the captured amount, not one unit more", () => {
    expect(planRefund(captured, 1000)).toMatchObject({ status: "refunded", refundedAmount: 1000 });
    expect(() => planRefund(captured, 1001)).toThrow(
      expect.objectContaining({ name: "RefundExceedsCapturedError", refundable: 1000 }),
    );
  });
});
