// The stack's Terraform outputs: what operators and the DR tooling read after an apply
// (`terraform output`). Created in the stack's scope, under the ids they always had.
import { Fn, TerraformOutput } from "cdktf";
import type { Config } from "../config";
import type { PaymentsDrStack } from "./payments-dr-stack";

const ROLES = ["primary", "secondary"] as const;

export function stackOutputs(stack: PaymentsDrStack, config: Config): void {
  const output = (id: string, value: string, description: string) =>
    new TerraformOutput(stack, id, { value, description });
  const { database, backup, tables, naming, services, drIam, orchestration, zone, routing } = stack;
  output(
    "global_cluster_identifier",
    database.globalCluster.globalClusterIdentifier,
    "Aurora global cluster",
  );
  output("global_writer_endpoint", database.globalCluster.endpoint, "Global writer endpoint");
  for (const role of ROLES) {
    const cluster = database[role].cluster;
    const region = config[role].region;
    output(`${role}_cluster_arn`, cluster.arn, `Aurora cluster in ${region}`);
    output(`${role}_cluster_endpoint`, cluster.endpoint, `Cluster endpoint in ${region}`);
    output(`${role}_reader_endpoint`, cluster.readerEndpoint, `Reader endpoint in ${region}`);
    output(`${role}_vpc_id`, stack[role].network.vpc.id, `VPC in ${region}`);
    output(`${role}_backup_vault`, backup[`${role}Vault`].name, `Backup vault in ${region}`);
  }
  for (const table of tables.all) {
    output(`${table.component}_table`, table.name, `Global table (${table.component})`);
  }
  output("parameter_prefix", naming.parameterPrefix, "SSM parameter prefix in both regions");
  for (const role of ROLES) {
    const region = config[role].region;
    output(`${role}_api_url`, services[role].api.url, `Payments API in ${region}`);
    output(`${role}_alert_topic_arn`, stack[role].alerts.topic.arn, `Alerts in ${region}`);
    output(`${role}_event_bus`, stack[role].bus.bus.name, `Event bus in ${region}`);
    output(
      `${role}_dr_automation_role_arn`,
      drIam.drillRoles[role].arn,
      `DR drill automation (SSM) in ${region}`,
    );
  }
  output("dr_operator_role_arn", drIam.operatorRole.arn, "On-call operator role");
  output(
    "dr_reconciler_role_arn",
    stack.reconciliation.reconcilerRole.arn,
    "On-call role for payments-dr reconcile (its events and finance report)",
  );
  output("ledger_table", stack.ledger.name, "DR ledger (global table): npm run ledger");
  for (const role of ROLES) {
    output(
      `${role}_report_bucket`,
      stack.reports[role].bucket.bucket,
      `Run and drill reports in ${config[role].region}`,
    );
  }
  for (const role of ROLES) {
    for (const [workflow, machine] of Object.entries(orchestration[role].stateMachines)) {
      output(
        `${role}_${workflow}_state_machine_arn`,
        machine.arn,
        `${workflow} workflow in ${config[role].region}`,
      );
    }
  }
  if (zone) {
    output("hosted_zone_id", zone.zone.zoneId, "Public hosted zone");
    output(
      "hosted_zone_name_servers",
      Fn.join(",", zone.zone.nameServers),
      "Delegate the domain to these",
    );
    output("api_record", routing.recordName!, "Failover record of the payments API");
  }
}
