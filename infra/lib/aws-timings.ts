// Timings of AWS services that the RTO budget (`npm run rto`) takes as given: what AWS documents,
// not what the code would like. Each with the page it comes from.

/**
 * Alias records cannot set a TTL: resolvers cache an alias answer for the target's TTL, 60 s for
 * API Gateway regional domain names. It is the DNS part of the RTO budget.
 */
export const ALIAS_TARGET_TTL_SECONDS = 60;
