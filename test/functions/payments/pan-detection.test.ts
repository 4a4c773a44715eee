// Card numbers in free text (reference, metadata) and in tokens, written the ways people and
// systems write them (review-11 M2): with other digits around them, with any short separator
// (". _ /", runs of spaces), in full-width or other Unicode digits, behind invisible characters.
// PCI DSS forbids storing a PAN unprotected; once stored here it lands in write-once ledger rows
// (payment_events.detail, idempotency_keys.response_body) and in events, so detection errs
// towards refusing.
import fc from "fast-check";
import {
  containsPan,
  looksLikePan,
  parseCardToken,
  parseMetadata,
  parseReference,
} from "../../../functions/payments/shared/validation";

/** Issuer prefixes the detector knows (validation.ts cardPrefix). */
const PREFIXES = ["4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "35", "81"];

function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** A Luhn-valid card number of 13 to 19 digits with a known issuer prefix. */
const pan = fc
  .record({
    prefix: fc.constantFrom(...PREFIXES),
    length: fc.integer({ min: 13, max: 19 }),
    digits: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
  })
  .map(({ prefix, length, digits }) => {
    const body = (prefix + digits.join("")).slice(0, length - 1);
    return body + luhnCheckDigit(body);
  });

const SEPARATORS = [" ", "-", ".", "_", "/", "  ", " - ", "\u00a0", "\u200b", "\u2009"];

/** The number split into groups of 1-6 digits joined by separators, as typed or printed. */
const formatted = fc
  .record({
    pan,
    cuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 19 }),
    separators: fc.array(fc.constantFrom(...SEPARATORS), { minLength: 19, maxLength: 19 }),
    fullWidth: fc.boolean(),
  })
  .map(({ pan: number, cuts, separators, fullWidth }) => {
    let out = "";
    let at = 0;
    let i = 0;
    while (at < number.length) {
      const size = cuts[i % cuts.length]!;
      out += (i > 0 ? separators[i]! : "") + number.slice(at, at + size);
      at += size;
      i++;
    }
    // U+FF10..U+FF19: full-width digits, as an IME on a Japanese keyboard types them.
    return fullWidth ? out.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))) : out;
  });

/** Text around the number: letters, or digits glued to it. */
const surrounding = fc.constantFrom("", "INV-", "0", "order 12 ", "ref:", "99");
const trailing = fc.constantFrom("", "0000", " exp 12/29", "-A", "7");

describe("card numbers in free text", () => {
  it.each([
    "04111111111111111",
    "INV-04111111111111111",
    "41111111111111110000",
    "4111.1111.1111.1111",
    "4111_1111_1111_1111",
    "4111/1111/1111/1111",
    "4111  1111 1111 1111",
    "4111 - 1111 - 1111 - 1111",
    "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
    "4111\u200b1111\u200b1111\u200b1111",
    "4111\u03011111\u03011111\u03011111", // a combining accent between the groups
    "4111\u202e1111\u202c1111 1111", // bidi controls
    "\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661", // Arabic-Indic
  ])("flags %j", (value) => {
    expect(containsPan(value)).toBe(true);
    expect(looksLikePan(value)).toBe(true);
    expect(() => parseReference(value)).toThrow(
      expect.objectContaining({ code: "pan_not_allowed" }),
    );
    expect(() => parseMetadata({ card: value })).toThrow(
      expect.objectContaining({ code: "pan_not_allowed" }),
    );
  });

  it("flags any Luhn-valid card number however it is grouped, separated or surrounded", () => {
    fc.assert(
      fc.property(surrounding, formatted, trailing, (before, number, after) => {
        const text = before + number + after;
        expect(containsPan(text)).toBe(true);
        expect(() => parseReference(text.slice(0, 80))).toThrow();
      }),
      { numRuns: 2_000 },
    );
  });

  it("accepts text whose digit runs are all shorter than a card number", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.stringMatching(/^[0-9]{0,12}$/), fc.stringMatching(/^[A-Za-z]{1,4}$/)),
          { maxLength: 6 },
        ),
        (parts) => {
          const text = parts.map(([digits, letters]) => digits + letters).join("");
          expect(containsPan(text)).toBe(false);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it.each([
    "ORDER-20260130-000123", // date and sequence: no card prefix in any window
    "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "+44 20 7946 0958",
    "123456789012",
  ])("accepts %j", (value) => {
    expect(containsPan(value)).toBe(false);
  });
});

describe("card numbers in tokens", () => {
  it.each(["tok_4111_1111_1111_1111", "tok_4111.1111.1111.1111"])(
    "refuses %j as a token",
    (token) => {
      expect(looksLikePan(token)).toBe(true);
      if (/^[A-Za-z][A-Za-z0-9_-]{7,127}$/.test(token)) {
        expect(() => parseCardToken(token)).toThrow(
          expect.objectContaining({ code: "pan_not_allowed" }),
        );
      }
    },
  );
});
