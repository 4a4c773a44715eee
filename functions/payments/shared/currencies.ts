// Currencies the API takes, with their ISO 4217 minor-unit exponent and amount limits. Pure data.
//
// Codes: ISO 4217 List One, the currencies in circulation as amended through 2025 (XCG replaced
// ANG, ZWG replaced ZWL, SLE replaced SLL, HRK withdrawn). Fund codes (BOV, CHE, CHW, CLF, COU,
// MXV, USN, UYI, UYW, XSU, XUA), supranational units (XBA-XBD, XDR), precious metals (XAG, XAU,
// XPD, XPT) and the test codes XTS and XXX are left out: nobody pays in them.
//
// Exponents are ISO 4217's, kept here as a table rather than derived at run time (PSPs differ:
// Stripe represents ISK and UGX with two decimals, Adyen CLP with two and CVE with none; an
// amount always means the ISO minor unit here).
//
// Limits (Stripe, "Supported currencies", docs.stripe.com/currencies):
// - Three-decimal currencies: "these API calls require the least-significant (last) digit to be
//   0. Your integration must round amounts to the nearest ten. For example, 5.124 KWD must be
//   rounded to 5120 or 5130." So their amounts are multiples of 10 (and at least 10).
// - Maximum: "The amount value supports up to: 12 digits for IDR ... 9 digits for INR ... 8 digits
//   for all other currencies", with card payments allowing "LBP 11, COP 10, HUF 10, JPY 10".
//   This service takes card tokens, so the card limits apply.
// - Minimum: one minor unit (ten for three-decimal currencies). Stripe's per-currency minimums
//   exist so "the Stripe fee doesn't exceed your charge"; this service charges no fee.

const CODES =
  "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN " +
  "BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL " +
  "GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF " +
  "KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN " +
  "MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD " +
  "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH " +
  "UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/** ISO 4217 exponent 0: the amount is in whole units. */
const ZERO_DECIMAL = new Set(
  "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(" "),
);
/** ISO 4217 exponent 3. */
const THREE_DECIMAL = new Set("BHD IQD JOD KWD LYD OMR TND".split(" "));

/** Digits an amount may have, where it is not 8 (Stripe's card-payment limits). */
const MAX_DIGITS: Readonly<Record<string, number>> = {
  IDR: 12,
  LBP: 11,
  COP: 10,
  HUF: 10,
  JPY: 10,
  INR: 9,
};
const DEFAULT_MAX_DIGITS = 8;

export interface Currency {
  readonly code: string;
  /** Minor units per major unit = 10^exponent. */
  readonly exponent: 0 | 2 | 3;
  /** Smallest amount, minor units. */
  readonly minAmount: number;
  /** Largest amount, minor units. */
  readonly maxAmount: number;
  /** Amounts are multiples of this (10 for three-decimal currencies, else 1). */
  readonly step: number;
}

function currency(code: string): Currency {
  const exponent = ZERO_DECIMAL.has(code) ? 0 : THREE_DECIMAL.has(code) ? 3 : 2;
  const step = exponent === 3 ? 10 : 1;
  return {
    code,
    exponent,
    minAmount: step,
    maxAmount: 10 ** (MAX_DIGITS[code] ?? DEFAULT_MAX_DIGITS) - step,
    step,
  };
}

export const CURRENCIES: ReadonlyMap<string, Currency> = new Map(
  CODES.split(" ").map((code) => [code, currency(code)]),
);

export const ISO_4217_CURRENCIES: ReadonlySet<string> = new Set(CURRENCIES.keys());

/** The rules of a currency the API takes, or undefined. */
export function currencyOf(code: string): Currency | undefined {
  return CURRENCIES.get(code);
}
