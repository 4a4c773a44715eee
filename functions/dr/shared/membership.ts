// RemoveFromGlobalCluster made safe to repeat. It is not idempotent: when a request lands and its
// answer is lost (a timeout, a Lambda stopped after the call), the SDK's retry, the state
// machine's retry or a resumed run sends it again and RDS answers with one of its documented
// faults (API_RemoveFromGlobalCluster: DBClusterNotFoundFault, GlobalClusterNotFoundFault,
// InvalidGlobalClusterStateFault, InvalidDBClusterStateFault), which would halt a run whose work
// is done. So on such a fault the global cluster is described: gone, or no longer listing the
// cluster among its GlobalClusterMembers (API_DescribeGlobalClusters), means the removal
// happened and the step counts as done. Still a member after a state fault (InvalidGlobalCluster-
// StateFault, InvalidDBClusterStateFault) is what an earlier removal still under way looks like:
// the operation is asynchronous ("This is an asynchronous operation", the SDKs' reference for
// RemoveFromGlobalCluster) and the cluster is listed until it is done; AWS documents no duration
// for it (aurora.md, open question 8). So that case is RemovalPendingError (a TransientError: the
// caller waits, within its own bound); a not-found fault with the cluster still listed stands.
import { DependencyError, TransientError } from "./errors";
import type { DatabasePort } from "./ports";

/**
 * The faults RemoveFromGlobalCluster documents (API_RemoveFromGlobalCluster, "Errors":
 * DBClusterNotFoundFault 404, GlobalClusterNotFoundFault 404, InvalidGlobalClusterStateFault 400,
 * InvalidDBClusterStateFault 400). AWS does not say which of them a repeat of a removal that
 * landed meets (the cluster is no longer a member, or the global cluster is gone), so each one
 * sends the caller to look before it counts as a failure. Any other error stands as it is.
 */
export const REMOVE_FROM_GLOBAL_CLUSTER_FAULTS: readonly string[] = [
  "DBClusterNotFoundFault",
  "GlobalClusterNotFoundFault",
  "InvalidGlobalClusterStateFault",
  "InvalidDBClusterStateFault",
];

export type RemovalOutcome = "removed" | "already-removed";

/** The removal's state faults: what a repeat meets while an earlier removal is under way. */
const STATE_FAULTS: readonly string[] = [
  "InvalidGlobalClusterStateFault",
  "InvalidDBClusterStateFault",
];

/**
 * The cluster is still listed in the global cluster and RDS answered a state fault: a removal
 * under way, or a refusal that looks the same. Named TransientError, so Promote's ASL Retry waits
 * for it (bounded by its MaxAttempts); Rebuild waits for it across polls (REMOVAL_WAIT_MINUTES).
 */
export class RemovalPendingError extends TransientError {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/**
 * `repeat`: whether this caller may already have requested this removal (a fact recorded before
 * its first call, or an earlier poll's action). Only then is a state fault with the cluster still
 * listed a removal under way; on a first request it is RDS refusing it (review L3: the global
 * cluster or the cluster busy with another operation), which stands as a DependencyError for
 * on-call instead of being waited on for minutes.
 */
export async function removeFromGlobalClusterOnce(
  database: DatabasePort,
  globalClusterIdentifier: string,
  clusterArn: string,
  repeat: boolean,
): Promise<RemovalOutcome> {
  try {
    await database.removeFromGlobalCluster(globalClusterIdentifier, clusterArn);
    return "removed";
  } catch (error) {
    const documented =
      error instanceof DependencyError &&
      error.code !== undefined &&
      REMOVE_FROM_GLOBAL_CLUSTER_FAULTS.includes(error.code);
    if (!documented) throw error;
    const global = await database.describeGlobalCluster(globalClusterIdentifier);
    if (global === null || !global.members.some((m) => m.clusterArn === clusterArn)) {
      return "already-removed";
    }
    if (!repeat && STATE_FAULTS.includes(error.code!)) {
      throw new DependencyError(
        `RemoveFromGlobalCluster refused to remove ${clusterArn} from ${globalClusterIdentifier} with ${error.code} on this run's first request (no earlier removal to wait for): look at the global cluster's status and events (aws rds describe-global-clusters, describe-events) before resuming`,
        { code: error.code, cause: error },
      );
    }
    if (STATE_FAULTS.includes(error.code!)) {
      throw new RemovalPendingError(
        `${clusterArn} is still listed in ${globalClusterIdentifier} and RemoveFromGlobalCluster answered ${error.code}: a removal still under way (asynchronous, listed until done) or RDS refusing it`,
        error.code!,
      );
    }
    throw error;
  }
}
