// Points the SSM parameters at the new writer: `db/writer-endpoint` and `active-region`, in the
// target region (must succeed) and in the other region (best-effort). Writes only values that
// differ, so a re-run writes nothing.
import { PARAMETERS } from "../../common/contract";
import { bestEffort } from "../shared/best-effort";
import type { DrDeps } from "../shared/deps";
import { TargetClusterUnhealthyError } from "../shared/errors";
import type { ParametersPort } from "../shared/ports";
import { parameterName, regionOf } from "../shared/topology";
import type { StepTimes, UpdateParametersResult, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type UpdateParametersOutcome = Omit<UpdateParametersResult, keyof StepTimes>;

export async function updateParameters(
  state: WorkflowState,
  deps: DrDeps,
): Promise<UpdateParametersOutcome> {
  const { request } = state;
  const { topology } = deps;
  const target = regionOf(topology, request.targetRegion);
  const ports = deps.ports(request.targetRegion, "critical");
  const method = state.steps.Promote?.method ?? state.steps.Switchover?.method;

  const [cluster, global] = await Promise.all([
    ports.database.describeCluster(target.clusterIdentifier),
    method === "detach"
      ? Promise.resolve(null)
      : ports.database.describeGlobalCluster(topology.globalClusterIdentifier),
  ]);
  // The global writer endpoint follows a managed failover or switchover by itself; after a
  // detach the target is standalone and its own cluster endpoint is the writer.
  const writerEndpoint = global?.endpoint ?? cluster?.endpoint;
  if (!writerEndpoint) {
    throw new TargetClusterUnhealthyError(
      `no writer endpoint for ${target.clusterIdentifier}: the cluster reports none`,
    );
  }
  const values: Record<string, string> = {
    [parameterName(topology, PARAMETERS.writerEndpoint)]: writerEndpoint,
    [parameterName(topology, PARAMETERS.activeRegion)]: request.targetRegion,
  };

  const changed = await writeChanged(ports.parameters, values);
  deps.log.info("parameters updated in the target region", { changed });

  const profile = request.workflow === "failover" ? "bestEffort" : "critical";
  const other = await bestEffort(
    `PutParameter in ${request.sourceRegion}`,
    () => writeChanged(deps.ports(request.sourceRegion, profile).parameters, values),
    deps,
  );
  return {
    writerEndpoint,
    activeRegion: request.targetRegion,
    otherRegion: other.ok ? "updated" : "unreachable",
  };
}

async function writeChanged(
  parameters: ParametersPort,
  values: Record<string, string>,
): Promise<string[]> {
  const changed: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if ((await parameters.get(name)) !== value) {
      await parameters.put(name, value);
      changed.push(name);
    }
  }
  return changed;
}

/** The UpdateParameters task (functions/dr/tasks.ts). */
export const UPDATE_PARAMETERS_TASK = stateTask({
  step: "UpdateParameters",
  description: "Points the SSM endpoints at the new writer",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: {
    database: ["describeCluster", "describeGlobalCluster"],
    parameters: {
      read: ["writerEndpoint", "activeRegion"],
      write: ["writerEndpoint", "activeRegion"],
    },
  },
  run: updateParameters,
});
