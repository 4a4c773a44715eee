import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import {
  Fn,
  LocalBackend,
  S3Backend,
  TerraformOutput,
  TerraformStack,
  TerraformVariable,
} from "cdktf";
import type { Construct } from "constructs";
import { DynamodbTableItem } from "@cdktf/provider-aws/lib/dynamodb-table-item";
import { CONTROL, FENCE_PHASE, METRICS, PARAMETERS } from "../../functions/shared/contract";
import type { Config, RegionConfig, RegionRole } from "../config";
import { Backup } from "../constructs/backup";
import { GlobalDatabase } from "../constructs/database";
import type { RegionalCluster } from "../constructs/database";
import { DrIam } from "../constructs/dr-iam";
import { DRILL_RUNBOOK, Drills } from "../constructs/drills";
import { EventReplication, EventsGlobalEndpoint, RegionalEventBus } from "../constructs/events";
import { PlatformKey } from "../constructs/keys";
import { Network } from "../constructs/network";
import type { ObservedRegion } from "../constructs/observability";
import {
  AlertTopic,
  OverviewDashboard,
  ProberAlarms,
  RegionalObservability,
} from "../constructs/observability";
import type { ParameterValue } from "../constructs/parameters";
import { RegionalParameters } from "../constructs/parameters";
import {
  DR_TASKS,
  FailoverTrigger,
  Prober,
  RegionalOrchestration,
} from "../constructs/orchestration";
import { PaymentsApi } from "../constructs/payments-api";
import { Peering } from "../constructs/peering";
import { FailoverRouting, PublicZone } from "../constructs/routing";
import { Readiness } from "../constructs/readiness";
import { GlobalTables } from "../constructs/tables";
import { Naming } from "../naming";

/** The DR workflows (state machines), deployed in both regions. */
export const DR_WORKFLOWS = ["failover", "switchover", "failback"] as const;

export interface PaymentsDrStackProps {
  readonly config: Config;
}

/** What each region contributes, built once per region by the same constructs. */
export interface RegionalParts {
  readonly role: RegionRole;
  readonly config: RegionConfig;
  readonly provider: AwsProvider;
  readonly key: PlatformKey;
  readonly network: Network;
  readonly bus: RegionalEventBus;
  readonly alerts: AlertTopic;
}

/** The region-specific services, built after the global pieces they depend on. */
export interface RegionalServices {
  readonly api: PaymentsApi;
  readonly parameters: RegionalParameters;
  readonly observability: RegionalObservability;
}

/**
 * One stack per environment holding both regions through two aliased providers, so one plan
 * shows the whole system and cross-region references stay typed. The failover path itself
 * never needs Terraform.
 */
export class PaymentsDrStack extends TerraformStack {
  public readonly naming: Naming;
  public readonly primary: RegionalParts;
  public readonly secondary: RegionalParts;
  public readonly database: GlobalDatabase;
  public readonly tables: GlobalTables;
  public readonly backup: Backup;
  public readonly zone?: PublicZone;
  public readonly services: Record<RegionRole, RegionalServices>;
  public readonly routing: FailoverRouting;
  public readonly proberAlarms: ProberAlarms;
  public readonly drIam: DrIam;
  public readonly orchestration: Record<RegionRole, RegionalOrchestration>;
  public readonly prober: Prober;

  constructor(scope: Construct, id: string, props: PaymentsDrStackProps) {
    super(scope, id);
    const { config } = props;
    this.naming = new Naming(config.environmentSuffix);

    if (config.stateBackend) {
      const backend = new S3Backend(this, {
        bucket: config.stateBackend.bucket,
        key: config.stateBackend.key,
        region: config.stateBackend.region,
        encrypt: true,
      });
      // S3-native locking (Terraform >= 1.10); the cdktf type predates the option.
      backend.addOverride("use_lockfile", true);
    } else {
      new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    }

    const regional = (region: RegionConfig, peer: RegionConfig): RegionalParts => {
      const provider = new AwsProvider(this, `aws-${region.role}`, {
        alias: region.role,
        region: region.region,
        defaultTags: [{ tags: this.naming.tags(region.role) }],
      });
      const key = new PlatformKey(this, `platform-key-${region.role}`, {
        provider,
        naming: this.naming,
        region: region.region,
      });
      const network = new Network(this, `network-${region.role}`, {
        provider,
        naming: this.naming,
        region,
        peerCidr: peer.vpcCidr,
        key,
        logRetentionDays: config.logRetentionDays,
        natGateways: config.natGateways,
      });
      const bus = new RegionalEventBus(this, `events-${region.role}`, {
        provider,
        naming: this.naming,
        region: region.region,
        key,
      });
      const alerts = new AlertTopic(this, `alerts-${region.role}`, {
        provider,
        naming: this.naming,
        region: region.region,
        key,
        email: config.alertEmail,
      });
      return { role: region.role, config: region, provider, key, network, bus, alerts };
    };
    this.primary = regional(config.primary, config.secondary);
    this.secondary = regional(config.secondary, config.primary);

    new Peering(this, "peering", {
      naming: this.naming,
      requester: {
        provider: this.primary.provider,
        network: this.primary.network,
        region: config.primary.region,
      },
      accepter: {
        provider: this.secondary.provider,
        network: this.secondary.network,
        region: config.secondary.region,
      },
    });

    const masterPassword = new TerraformVariable(this, "db_master_password", {
      type: "string",
      sensitive: true,
      nullable: false,
      description:
        'Aurora master password (8-128 printable ASCII, no / " @ or space). Set TF_VAR_db_master_password; never commit it.',
      validation: [
        {
          condition:
            '${length(var.db_master_password) >= 16 && length(var.db_master_password) <= 128 && can(regex("^[!-~]+$", var.db_master_password)) && !can(regex("[/\\"@]", var.db_master_password))}',
          errorMessage:
            'db_master_password must be 16 to 128 printable ASCII characters without /, ", @ or spaces.',
        },
      ],
    });
    const apiKeys = new TerraformVariable(this, "payments_api_keys", {
      type: "string",
      sensitive: true,
      nullable: false,
      description:
        "Comma-separated API keys accepted by the payments API (each at least 32 characters). Set TF_VAR_payments_api_keys.",
      validation: [
        {
          condition:
            '${alltrue([for k in split(",", var.payments_api_keys) : length(trimspace(k)) >= 32])}',
          errorMessage:
            "payments_api_keys must be comma-separated keys of at least 32 characters each.",
        },
      ],
    });

    this.database = new GlobalDatabase(this, "database", {
      naming: this.naming,
      database: config.database,
      primary: this.primary,
      secondary: this.secondary,
      masterPassword: masterPassword.stringValue,
      logRetentionDays: config.logRetentionDays,
    });
    this.tables = new GlobalTables(this, "tables", {
      naming: this.naming,
      primary: {
        provider: this.primary.provider,
        region: config.primary.region,
        key: this.primary.key,
      },
      secondary: {
        provider: this.secondary.provider,
        region: config.secondary.region,
        key: this.secondary.key,
      },
    });
    this.backup = new Backup(this, "backup", {
      naming: this.naming,
      backup: config.backup,
      primary: {
        provider: this.primary.provider,
        region: config.primary.region,
        key: this.primary.key,
        resourceArns: [
          this.database.primary.cluster.arn,
          ...this.tables.all.map((t) => t.primaryArn),
        ],
      },
      secondary: {
        provider: this.secondary.provider,
        region: config.secondary.region,
        key: this.secondary.key,
        resourceArns: [
          this.database.secondary.cluster.arn,
          ...this.tables.all.map((t) => t.replicaArn),
        ],
      },
    });

    if (config.domainName) {
      this.zone = new PublicZone(this, "zone", {
        provider: this.primary.provider,
        domainName: config.domainName,
      });
    }
    const apis = {
      primary: this.paymentsApi(config, this.primary),
      secondary: this.paymentsApi(config, this.secondary),
    };
    const target = (api: PaymentsApi, region: string) => ({
      region,
      apiHost: api.host,
      aliasTarget: api.customDomain
        ? {
            name: api.customDomain.domainNameConfiguration.targetDomainName,
            zoneId: api.customDomain.domainNameConfiguration.hostedZoneId,
          }
        : undefined,
    });
    this.routing = new FailoverRouting(this, "routing", {
      provider: this.primary.provider,
      naming: this.naming,
      routing: config.routing,
      primary: target(apis.primary, config.primary.region),
      secondary: target(apis.secondary, config.secondary.region),
      zone: this.zone,
    });

    new EventReplication(this, "event-replication", {
      naming: this.naming,
      primary: { provider: this.primary.provider, bus: this.primary.bus },
      secondary: { provider: this.secondary.provider, bus: this.secondary.bus },
    });
    if (config.eventsGlobalEndpoint) {
      new EventsGlobalEndpoint(this, "events-global-endpoint", {
        naming: this.naming,
        primary: { provider: this.primary.provider, bus: this.primary.bus },
        secondary: { bus: this.secondary.bus },
        healthCheckArn: this.routing.primaryHealthCheck.arn,
      });
    }

    const parameterValues = (
      cluster: RegionalCluster,
      api: PaymentsApi,
    ): Record<string, ParameterValue> => ({
      [PARAMETERS.writerEndpoint]: {
        value: this.database.globalCluster.endpoint,
        ownedByOrchestrator: true,
        description:
          "Global writer endpoint; follows the writer, rewritten after a detach-and-promote",
      },
      [PARAMETERS.readerEndpoint]: {
        value: cluster.cluster.readerEndpoint,
        description: "This region's reader endpoint",
      },
      [PARAMETERS.clusterEndpoint]: {
        value: cluster.cluster.endpoint,
        description: "This region's cluster endpoint",
      },
      [PARAMETERS.databaseName]: {
        value: config.database.databaseName,
        description: "Database name",
      },
      [PARAMETERS.username]: {
        value: config.database.masterUsername,
        description: "Database user",
      },
      [PARAMETERS.password]: {
        value: masterPassword.stringValue,
        secure: true,
        description:
          "Database password (the master password: global databases cannot use Secrets Manager)",
      },
      [PARAMETERS.activeRegion]: {
        value: config.primary.region,
        ownedByOrchestrator: true,
        description: "The region taking writes; rewritten by the failover orchestrator",
      },
      [PARAMETERS.apiKeys]: {
        value: Fn.jsonencode(Fn.split(",", Fn.replace(apiKeys.stringValue, " ", ""))),
        secure: true,
        description: "JSON array of API keys accepted by the payments API",
      },
      [PARAMETERS.apiUrl]: { value: api.url, description: "This region's payments API URL" },
    });
    const observed = (
      parts: RegionalParts,
      peer: RegionalParts,
      api: PaymentsApi,
    ): ObservedRegion => ({
      region: parts.config.region,
      clusterIdentifier: this.database[parts.role].cluster.clusterIdentifier,
      apiId: api.api.id,
      functionNames: Object.values(api.functions).map((f) => f.functionName),
      tableNames: this.tables.all.map((t) => t.name),
      peerRegion: peer.config.region,
    });
    const prober = { region: config.secondary.region, probedRegion: config.primary.region };
    const services = (parts: RegionalParts, peer: RegionalParts): RegionalServices => {
      const api = apis[parts.role];
      return {
        api,
        parameters: new RegionalParameters(this, `parameters-${parts.role}`, {
          provider: parts.provider,
          naming: this.naming,
          key: parts.key,
          values: parameterValues(this.database[parts.role], api),
        }),
        observability: new RegionalObservability(this, `observability-${parts.role}`, {
          provider: parts.provider,
          naming: this.naming,
          topic: parts.alerts,
          observed: observed(parts, peer, api),
          prober,
        }),
      };
    };
    this.services = {
      primary: services(this.primary, this.secondary),
      secondary: services(this.secondary, this.primary),
    };
    for (const parts of [this.primary, this.secondary]) {
      new Readiness(this, `readiness-${parts.role}`, {
        provider: parts.provider,
        naming: this.naming,
        region: parts.config.region,
        functionNames: [
          ...Object.values(apis[parts.role].functions).map((f) => f.functionName),
          ...[...DR_TASKS, "prober"].map((t) => this.naming.name("lambdaFunction", `dr-${t}`)),
        ],
        backupRetentionDays: config.backup.retentionDays,
        configRules: config.readinessRules,
      });
    }
    new OverviewDashboard(this, "overview", {
      provider: this.secondary.provider,
      naming: this.naming,
      primary: observed(this.primary, this.secondary, apis.primary),
      secondary: observed(this.secondary, this.primary, apis.secondary),
      prober,
    });
    this.proberAlarms = new ProberAlarms(this, "prober-alarms", {
      provider: this.secondary.provider,
      naming: this.naming,
      topic: this.secondary.alerts,
      region: config.secondary.region,
      probedRegion: config.primary.region,
      routing: config.routing,
      secondaryClusterIdentifier: this.database.secondary.cluster.clusterIdentifier,
    });

    const drRegion = (parts: RegionalParts) => ({
      provider: parts.provider,
      region: parts.config.region,
      clusterArn: this.database[parts.role].cluster.arn,
      alertTopicArn: parts.alerts.topic.arn,
      eventBusArn: parts.bus.bus.arn,
      platformKeyArn: parts.key.arn,
    });
    this.drIam = new DrIam(this, "dr-iam", {
      naming: this.naming,
      accountId: this.primary.key.accountId,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      controlTableName: this.tables.control.name,
      stateMachineNames: DR_WORKFLOWS.map((w) => this.naming.name("stateMachine", w)),
      drillDocumentName: this.naming.name("ssmDocument", DRILL_RUNBOOK),
      functionNames: [...DR_TASKS, "prober"].map((t) =>
        this.naming.name("lambdaFunction", `dr-${t}`),
      ),
      primary: drRegion(this.primary),
      secondary: drRegion(this.secondary),
      dns: this.zone
        ? {
            zoneId: this.zone.zone.zoneId,
            healthCheckIds: [
              this.routing.primaryHealthCheck.id,
              this.routing.secondaryHealthCheck.id,
            ],
          }
        : undefined,
    });

    const topology = this.topology(config);
    const orchestration = (parts: RegionalParts) =>
      new RegionalOrchestration(this, `orchestration-${parts.role}`, {
        provider: parts.provider,
        naming: this.naming,
        region: parts.config.region,
        key: parts.key,
        logRetentionDays: config.logRetentionDays,
        role: this.drIam.automationRoles[parts.role],
        rolePolicy: this.drIam.automationPolicies[parts.role],
        topology,
        failover: config.failover,
      });
    this.orchestration = {
      primary: orchestration(this.primary),
      secondary: orchestration(this.secondary),
    };
    new FailoverTrigger(this, "failover-trigger", {
      provider: this.secondary.provider,
      naming: this.naming,
      region: config.secondary.region,
      alarms: [this.proberAlarms.primaryUnhealthy, this.proberAlarms.writerUnavailable],
      stateMachine: this.orchestration.secondary.stateMachines.failover,
      role: this.drIam.automationRoles.secondary,
      failover: config.failover,
    });
    this.prober = new Prober(this, "prober", {
      provider: this.secondary.provider,
      naming: this.naming,
      region: config.secondary.region,
      key: this.secondary.key,
      topology,
      routing: config.routing,
      logRetentionDays: config.logRetentionDays,
      controlTableArn: this.tables.control.replicaArn,
      metricsNamespace: METRICS.namespace,
    });
    const drillRegion = (parts: RegionalParts) => ({
      provider: parts.provider,
      region: parts.config.region,
      automationRole: this.drIam.automationRoles[parts.role],
      alertTopicArn: parts.alerts.topic.arn,
    });
    new Drills(this, "drills", {
      naming: this.naming,
      drills: config.drills,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      primary: drillRegion(this.primary),
      secondary: drillRegion(this.secondary),
    });

    // The fencing flag starts out naming the primary; from then on only the orchestrator
    // writes it, so Terraform ignores its later values.
    new DynamodbTableItem(this, "active-region-flag", {
      provider: this.primary.provider,
      tableName: this.tables.control.table.name,
      hashKey: CONTROL.partitionKey,
      item: JSON.stringify({
        [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem },
        activeRegion: { S: config.primary.region },
        fencingToken: { N: "0" },
        phase: { S: FENCE_PHASE.open },
        updatedAt: { S: "1970-01-01T00:00:00.000Z" },
        updatedBy: { S: "terraform" },
        reason: { S: "initial deployment" },
      }),
      lifecycle: { ignoreChanges: ["item"] },
    });

    this.outputs(config);
  }

  /** `DR_TOPOLOGY`: what every DR function knows about both regions (identical in both). */
  private topology(config: Config): string {
    const region = (parts: RegionalParts) => {
      const api = this.services[parts.role].api;
      const healthCheck =
        parts.role === "primary"
          ? this.routing.primaryHealthCheck
          : this.routing.secondaryHealthCheck;
      return {
        region: parts.config.region,
        role: parts.role,
        clusterArn: this.database[parts.role].cluster.arn,
        clusterIdentifier: this.database[parts.role].cluster.clusterIdentifier,
        apiUrl: api.url,
        eventBusName: parts.bus.bus.name,
        alertTopicArn: parts.alerts.topic.arn,
        healthCheckId: healthCheck.id,
        ...(api.customDomain
          ? {
              apiDomainTarget: {
                dnsName: api.customDomain.domainNameConfiguration.targetDomainName,
                hostedZoneId: api.customDomain.domainNameConfiguration.hostedZoneId,
              },
            }
          : {}),
      };
    };
    return Fn.jsonencode({
      environmentSuffix: config.environmentSuffix,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      parameterPrefix: this.naming.parameterPrefix,
      controlTable: this.tables.control.name,
      ...(this.zone
        ? { dns: { hostedZoneId: this.zone.zone.zoneId, recordName: this.routing.recordName } }
        : {}),
      regions: {
        [config.primary.region]: region(this.primary),
        [config.secondary.region]: region(this.secondary),
      },
    });
  }

  private paymentsApi(config: Config, parts: RegionalParts): PaymentsApi {
    return new PaymentsApi(this, `payments-${parts.role}`, {
      provider: parts.provider,
      naming: this.naming,
      region: parts.config.region,
      key: parts.key,
      network: parts.network,
      payments: config.payments,
      logRetentionDays: config.logRetentionDays,
      tables: {
        control: this.tables.control.name,
        sessions: this.tables.sessions.name,
        idempotency: this.tables.idempotency.name,
      },
      eventBus: { name: parts.bus.bus.name, arn: parts.bus.bus.arn },
      domain: this.zone ? { name: this.zone.domainName, zoneId: this.zone.zone.zoneId } : undefined,
    });
  }

  private outputs(config: Config): void {
    const output = (id: string, value: string, description: string) =>
      new TerraformOutput(this, id, { value, description });
    output(
      "global_cluster_identifier",
      this.database.globalCluster.globalClusterIdentifier,
      "Aurora global cluster",
    );
    output(
      "global_writer_endpoint",
      this.database.globalCluster.endpoint,
      "Global writer endpoint",
    );
    for (const role of ["primary", "secondary"] as const) {
      const cluster = this.database[role].cluster;
      const region = config[role].region;
      output(`${role}_cluster_arn`, cluster.arn, `Aurora cluster in ${region}`);
      output(`${role}_cluster_endpoint`, cluster.endpoint, `Cluster endpoint in ${region}`);
      output(`${role}_reader_endpoint`, cluster.readerEndpoint, `Reader endpoint in ${region}`);
      output(`${role}_vpc_id`, this[role].network.vpc.id, `VPC in ${region}`);
      output(`${role}_backup_vault`, this.backup[`${role}Vault`].name, `Backup vault in ${region}`);
    }
    for (const table of this.tables.all) {
      output(`${table.component}_table`, table.name, `Global table (${table.component})`);
    }
    output("parameter_prefix", this.naming.parameterPrefix, "SSM parameter prefix in both regions");
    for (const role of ["primary", "secondary"] as const) {
      output(
        `${role}_api_url`,
        this.services[role].api.url,
        `Payments API in ${config[role].region}`,
      );
      output(
        `${role}_alert_topic_arn`,
        this[role].alerts.topic.arn,
        `Alerts in ${config[role].region}`,
      );
      output(`${role}_event_bus`, this[role].bus.bus.name, `Event bus in ${config[role].region}`);
      output(
        `${role}_dr_automation_role_arn`,
        this.drIam.automationRoles[role].arn,
        `DR automation in ${config[role].region}`,
      );
    }
    output("dr_operator_role_arn", this.drIam.operatorRole.arn, "On-call operator role");
    for (const role of ["primary", "secondary"] as const) {
      for (const [workflow, machine] of Object.entries(this.orchestration[role].stateMachines)) {
        output(
          `${role}_${workflow}_state_machine_arn`,
          machine.arn,
          `${workflow} workflow in ${config[role].region}`,
        );
      }
    }
    if (this.zone) {
      output("hosted_zone_id", this.zone.zone.zoneId, "Public hosted zone");
      output(
        "hosted_zone_name_servers",
        Fn.join(",", this.zone.zone.nameServers),
        "Delegate the domain to these",
      );
      output("api_record", this.routing.recordName!, "Failover record of the payments API");
    }
  }
}
