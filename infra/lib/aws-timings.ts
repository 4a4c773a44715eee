// Timings of AWS services that the RTO budget (`npm run rto`) and the fault injector take as given:
// what AWS documents, not what the code would like. Each with the page it comes from.

/**
 * Alias records cannot set a TTL: resolvers cache an alias answer for the target's TTL. Route 53
 * documents 60 s for ELB targets; for API Gateway regional domain names it documents none, so
 * this is the common value to measure against, not a promise
 * (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html).
 */
export const ALIAS_TARGET_TTL_SECONDS = 60;

/**
 * Aurora managed failover (FailoverGlobalCluster with AllowDataLoss): "Typically, the chosen
 * secondary cluster assumes the primary role within a few minutes." No upper bound is documented
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
 * The fault injector draws from this range; the expected RTO takes RTO_EXPECTED_AURORA_FAILOVER_SECONDS.
 */
export const AURORA_PROMOTION_SECONDS = { min: 10, typical: 120, max: 20 * 60 } as const;
