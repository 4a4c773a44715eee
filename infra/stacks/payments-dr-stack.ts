import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Fn, LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import type { DrCapacity, DrRegion } from "../../functions/common/contract";
import type { Config, RegionConfig, RegionRole } from "../config";
import { otherRole } from "../config";
import { Backup } from "../constructs/backup";
import { GlobalDatabase, instanceIdentifier, parameterGroupFamily } from "../constructs/database";
import { DrIam } from "../constructs/dr-iam";
import { Drills } from "../constructs/drills";
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
import { RegionalParameters, secretVariables } from "../constructs/parameters";
import {
  drTaskFunctionNames,
  FailoverTrigger,
  failoverTriggerDlq,
  Prober,
  RegionalOrchestration,
} from "../constructs/orchestration";
import { PaymentsApi, paymentDatabaseClients } from "../constructs/payments-api";
import { Peering } from "../constructs/peering";
import { onCallPrincipals } from "../lib/on-call";
import { Reconciliation } from "../constructs/reconcile";
import { FailoverRouting, PublicZone } from "../constructs/routing";
import { Readiness, ReadinessEvaluator } from "../constructs/readiness";
import type { ReadinessTargets } from "../constructs/readiness";
import { DRILL_RUNBOOK } from "../constructs/drills";
import { WORKFLOWS } from "../lib/asl";
import {
  DrillEvidence,
  LedgerTable,
  REPORT_FUNCTIONS,
  RegionalReports,
  reportTargets,
} from "../constructs/reports";
import { RESTORE_CHECK_CLIENT, RestoreDrill } from "../constructs/restore-drill";
import { GlobalTables } from "../constructs/tables";
import { checkConnectionBudget } from "../lib/connection-budget";
import type { BudgetInput, WriterBudget } from "../lib/connection-budget";
import { drTopology } from "../lib/topology";
import { Naming, PROBER_COMPONENT, regionCode } from "../naming";
import { stackOutputs } from "./outputs";

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

const ROLES = ["primary", "secondary"] as const;

/**
 * The construct id of a piece that lives in the standby region (detection, the failover trigger,
 * the drill schedule). It has always lived in the secondary slot under `base`; hosted in the
 * primary slot (WRITER_REGION = SECONDARY_REGION) it takes another id, so Terraform creates it
 * there and destroys the old one instead of "moving" it between regions under one address (the
 * provider would look for it in the new region, lose track of it and leave the old one running).
 */
export function standbyId(base: string, host: RegionRole): string {
  return host === "secondary" ? base : `${base}-in-primary`;
}

/**
 * One stack per environment holding both regions through two aliased providers, so one plan
 * shows the whole system and cross-region references stay typed. The failover path itself
 * never needs Terraform. The constructor reads as the system's table of contents: each piece is
 * a construct next to what it describes.
 */
/**
 * Every function that connects to the database, in both regions, with its reserved concurrency
 * and connections per environment: the payment functions (API, relay, expiry job, migrate) and
 * the restore check. The DR tasks and the prober never open a database connection.
 */
export function connectionBudgetInput(config: Config): BudgetInput {
  const regions = [config.primary.region, config.secondary.region];
  return {
    instanceClass: config.database.instanceClass,
    measuredMaxConnections: config.database.measuredMaxConnections,
    sharePercent: config.database.connectionBudgetPercent,
    accountConcurrency: config.payments.accountConcurrencyLimit,
    regions,
    clients: [
      ...regions.flatMap((region) => paymentDatabaseClients(config.payments, region)),
      // The restore drill's check runs where the drill does: the region standing by.
      { ...RESTORE_CHECK_CLIENT, region: config[otherRole(config.writer)].region },
    ],
  };
}

/**
 * What the connection budget assumes of Lambda concurrency, for the readiness evaluator to hold
 * against each region's real quota: the LAMBDA_CONCURRENCY_LIMIT it used, the concurrency it
 * reserves for database functions per region, and the database functions left unreserved.
 */
export function lambdaBudget(config: Config): ReadinessTargets["lambdaBudget"] {
  const input = connectionBudgetInput(config);
  const reserved: Record<string, number> = {};
  for (const region of input.regions) {
    reserved[region] = input.clients
      .filter((c) => c.region === region && c.reservedConcurrency !== null)
      .reduce((sum, c) => sum + c.reservedConcurrency!, 0);
  }
  const unreserved = [
    ...new Set(input.clients.filter((c) => c.reservedConcurrency === null).map((c) => c.name)),
  ];
  return { accountConcurrency: input.accountConcurrency, reserved, unreserved };
}

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
  public readonly readinessEvaluators: Record<RegionRole, ReadinessEvaluator>;
  /** The slot holding the Aurora writer (WRITER_REGION). */
  public readonly writerRole: RegionRole;
  public readonly ledger: LedgerTable;
  public readonly reports: Record<RegionRole, RegionalReports>;
  public readonly drillEvidence: DrillEvidence;
  public readonly restoreDrill: RestoreDrill;
  public readonly reconciliation: Reconciliation;

  /** The writer's connection budget in each region, checked before anything is built. */
  public readonly connectionBudget: WriterBudget[];

  constructor(scope: Construct, id: string, props: PaymentsDrStackProps) {
    super(scope, id);
    const { config } = props;
    this.connectionBudget = checkConnectionBudget(connectionBudgetInput(config));
    const naming = new Naming(config.environmentSuffix);
    this.naming = naming;
    this.backend(id, config);
    // Where the writer is (WRITER_REGION) and where the standby pieces live: the other slot.
    const writer = config.writer;
    const standby = otherRole(writer);
    this.writerRole = writer;

    // Per region: provider, platform key, network, event bus, alert topic.
    this.primary = this.regionalParts(config.primary, config.secondary, config);
    this.secondary = this.regionalParts(config.secondary, config.primary, config);
    const parts = (role: RegionRole) => this[role];
    new Peering(this, "peering", {
      naming,
      requester: { ...this.primary, region: config.primary.region },
      accepter: { ...this.secondary, region: config.secondary.region },
    });

    // Data tier: the global database, the global tables (with the fencing flag's seed), backups.
    const secrets = secretVariables(this);
    this.database = new GlobalDatabase(this, "database", {
      naming,
      database: config.database,
      primary: this.primary,
      secondary: this.secondary,
      writer,
      masterPassword: secrets.masterPassword.stringValue,
      logRetentionDays: config.logRetentionDays,
    });
    this.tables = new GlobalTables(this, "tables", {
      naming,
      primary: { ...this.primary, region: config.primary.region },
      secondary: { ...this.secondary, region: config.secondary.region },
      initialActiveRegion: config[writer].region,
    });
    this.backup = new Backup(this, "backup", {
      naming,
      backup: config.backup,
      primary: {
        ...this.primary,
        region: config.primary.region,
        resourceArns: [
          this.database.primary.cluster.arn,
          ...this.tables.all.map((t) => t.primaryArn),
        ],
      },
      secondary: {
        ...this.secondary,
        region: config.secondary.region,
        resourceArns: [
          this.database.secondary.cluster.arn,
          ...this.tables.all.map((t) => t.replicaArn),
        ],
      },
    });

    // The payment service in both regions, and the routing in front of it.
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
    this.routing = new FailoverRouting(this, "routing", {
      provider: this.primary.provider,
      naming,
      routing: config.routing,
      primary: routedRegion(apis.primary, config.primary.region),
      secondary: routedRegion(apis.secondary, config.secondary.region),
      writer,
      zone: this.zone,
    });

    // Events replicated between the regions' buses.
    new EventReplication(this, "event-replication", {
      naming,
      primary: this.primary,
      secondary: this.secondary,
    });
    if (config.eventsGlobalEndpoint) {
      new EventsGlobalEndpoint(this, "events-global-endpoint", {
        naming,
        primary: this.primary,
        secondary: this.secondary,
        healthCheckArn: this.routing.primaryHealthCheck.arn,
      });
    }

    // Parameters, alarms and dashboards of each region; readiness rules.
    const prober = { region: config[standby].region, probedRegion: config[writer].region };
    const observed = (role: RegionRole) => this.observed(role, apis[role]);
    const services = (role: RegionRole): RegionalServices => ({
      api: apis[role],
      parameters: new RegionalParameters(this, `parameters-${role}`, {
        provider: parts(role).provider,
        naming,
        key: parts(role).key,
        database: this.database,
        cluster: this.database[role],
        databaseConfig: config.database,
        api: apis[role],
        secrets,
        initialActiveRegion: config[writer].region,
      }),
      observability: new RegionalObservability(this, `observability-${role}`, {
        provider: parts(role).provider,
        naming,
        topic: parts(role).alerts,
        observed: observed(role),
        prober,
      }),
    });
    this.services = { primary: services("primary"), secondary: services("secondary") };
    for (const role of ROLES) {
      new Readiness(this, `readiness-${role}`, {
        provider: parts(role).provider,
        naming,
        region: parts(role).config.region,
        functionNames: [
          ...Object.values(apis[role].functions).map((f) => f.functionName),
          ...drTaskFunctionNames(naming),
          naming.name("lambdaFunction", PROBER_COMPONENT),
        ],
        backupRetentionDays: config.backup.retentionDays,
        configRules: config.readinessRules,
      });
    }
    // Evidence: each region's report bucket and writer, the ledger across runs (a global
    // table), and the drill watch and ledger widget in the secondary slot: they read the
    // ledger, which is in both regions, so they stay where they are when WRITER_REGION moves.
    this.ledger = new LedgerTable(this, "ledger", {
      naming,
      primary: { ...this.primary, region: config.primary.region },
      secondary: { ...this.secondary, region: config.secondary.region },
    });
    const targets = reportTargets(config.failover, config.drills);
    const reports = (role: RegionRole) =>
      new RegionalReports(this, `reports-${role}`, {
        provider: parts(role).provider,
        naming,
        region: parts(role).config.region,
        key: parts(role).key,
        alerts: parts(role).alerts,
        ledger: this.ledger,
        reports: config.reports,
        targets,
        logRetentionDays: config.logRetentionDays,
      });
    this.reports = { primary: reports("primary"), secondary: reports("secondary") };
    this.drillEvidence = new DrillEvidence(this, "drill-evidence", {
      provider: this.secondary.provider,
      naming,
      region: config.secondary.region,
      key: this.secondary.key,
      alerts: this.secondary.alerts,
      ledger: this.ledger,
      reports: config.reports,
      drills: config.drills,
      logRetentionDays: config.logRetentionDays,
    });

    // Dashboards are global (their ARN has no region): the overview stays where it is.
    new OverviewDashboard(this, "overview", {
      provider: this.secondary.provider,
      naming,
      primary: observed("primary"),
      secondary: observed("secondary"),
      prober,
      evidence: {
        widgetFunctionArn: this.drillEvidence.widget.function.arn,
        alarms: this.drillEvidence.alarms,
        targets: targets.default,
        maxDrillAgeDays: config.drills.maxAgeDays,
      },
    });

    // Detection (in the standby region) and the failover orchestration (in both).
    this.proberAlarms = new ProberAlarms(this, standbyId("prober-alarms", standby), {
      provider: this[standby].provider,
      naming,
      topic: this[standby].alerts,
      region: config[standby].region,
      probedRegion: config[writer].region,
      routing: config.routing,
      secondaryClusterIdentifier: this.database.reader.cluster.clusterIdentifier,
    });
    this.drIam = new DrIam(this, "dr-iam", {
      naming,
      database: this.database,
      controlTable: this.tables.control,
      primary: { ...this.primary, region: config.primary.region },
      secondary: { ...this.secondary, region: config.secondary.region },
      routing: this.routing,
      zone: this.zone,
      operatorPrincipalArns: config.operatorPrincipalArns,
      writer,
      reports: {
        bucketArns: ROLES.map((role) => this.reports[role].bucket.arn),
        ledgerArns: Object.values(this.ledger.arns),
        widgetFunctionArn: this.drillEvidence.widget.function.arn,
      },
    });
    const topology = this.topology(config);
    const capacity = this.capacity(config);
    const orchestration = (role: RegionRole) =>
      new RegionalOrchestration(this, `orchestration-${role}`, {
        provider: parts(role).provider,
        naming,
        region: parts(role).config.region,
        key: parts(role).key,
        logRetentionDays: config.logRetentionDays,
        workflowLogRetentionDays: config.auditLogRetention.workflowDays,
        workflowRole: this.drIam.workflowRoles[role],
        workflowPolicy: this.drIam.workflowPolicies[role],
        taskStatements: (task) => this.drIam.taskStatements(task, parts(role).config.region),
        topology,
        databaseSpec: Fn.jsonencode(this.database.spec),
        failover: config.failover,
        dbRpoSeconds: config.database.rpoSeconds,
        dbProofMarginSeconds: config.database.proofMarginSeconds,
        capacity,
        reports: {
          writerFunctionName: this.reports[role].writer.functionName,
          bucketName: this.reports[role].bucket.bucket,
        },
      });
    this.orchestration = {
      primary: orchestration("primary"),
      secondary: orchestration("secondary"),
    };
    new FailoverTrigger(this, standbyId("failover-trigger", standby), {
      provider: this[standby].provider,
      naming,
      region: config[standby].region,
      alarms: [this.proberAlarms.primaryUnhealthy, this.proberAlarms.writerUnavailable],
      stateMachine: this.orchestration[standby].stateMachines.failover,
      role: this.drIam.eventsRole,
      failover: config.failover,
      key: this[standby].key,
    });
    // The other slot keeps its dead-letter queue (and what it holds) for when the trigger moves
    // back: a WRITER_REGION move destroys no queue.
    failoverTriggerDlq(new Construct(this, standbyId("failover-trigger", writer)), {
      provider: this[writer].provider,
      naming,
      region: config[writer].region,
      key: this[writer].key,
    });
    this.prober = new Prober(this, standbyId("prober", standby), {
      provider: this[standby].provider,
      naming,
      region: config[standby].region,
      key: this[standby].key,
      topology,
      routing: config.routing,
      logRetentionDays: config.logRetentionDays,
      controlTableArn:
        standby === "secondary" ? this.tables.control.replicaArn : this.tables.control.primaryArn,
      writerControl: {
        region: config[writer].region,
        tableArn:
          writer === "secondary" ? this.tables.control.replicaArn : this.tables.control.primaryArn,
        keyArn: this[writer].key.arn,
      },
      dbRpoSeconds: config.database.rpoSeconds,
    });

    // Monthly drills.
    const drillRegion = (role: RegionRole) => ({
      provider: parts(role).provider,
      region: parts(role).config.region,
      drillRole: this.drIam.drillRoles[role],
      alertTopicArn: parts(role).alerts.topic.arn,
      reportWriterFunctionName: this.reports[role].writer.functionName,
    });
    new Drills(this, "drills", {
      naming,
      drills: config.drills,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      primary: drillRegion("primary"),
      secondary: drillRegion("secondary"),
      writer,
      eventsRole: this.drIam.eventsRole,
    });

    // The monthly restore drill, in the region standing by: AWS Backup copies the writer's
    // recovery points there (the primary plan to the secondary vault, its mirror back once the
    // writer moved), and a restore drill belongs out of the writer's region. Hosted in the
    // primary slot it takes another construct id (standbyId), like the other standby pieces.
    const standbyVault =
      standby === "primary" ? this.backup.primaryVault : this.backup.secondaryVault;
    this.restoreDrill = new RestoreDrill(this, standbyId("restore-drill", standby), {
      provider: this[standby].provider,
      naming,
      region: config[standby].region,
      key: this[standby].key,
      network: this[standby].network,
      drills: config.drills,
      logRetentionDays: config.logRetentionDays,
      instanceClass: config.database.instanceClass,
      sourceClusterArn: this.database[writer].cluster.arn,
      subnetGroupName: this.database[standby].cluster.dbSubnetGroupName,
      clusterParameterGroupName: this.database[standby].cluster.dbClusterParameterGroupName,
      auroraKeyArn: this.database[standby].storageKeyArn,
      vault: { name: standbyVault.name, arn: standbyVault.arn },
      controlTable: {
        name: this.tables.control.name,
        arn:
          standby === "primary" ? this.tables.control.primaryArn : this.tables.control.replicaArn,
      },
      alertTopicArn: this[standby].alerts.topic.arn,
      reportWriter: {
        name: this.reports[standby].writer.functionName,
        arn: this.reports[standby].writer.function.arn,
      },
    });

    // Continuous readiness: each region evaluates both, read-only, on a schedule.
    const readinessTargets = this.readinessTargets(config, apis.primary);
    this.readinessEvaluators = {
      primary: this.readinessEvaluator("primary", config, readinessTargets, topology),
      secondary: this.readinessEvaluator("secondary", config, readinessTargets, topology),
    };

    // Lost-write reconciliation: its runbook in both regions (it runs in the old primary's).
    const reconcilerTargets = (role: RegionRole) => ({
      reportWriterFunction: this.reports[role].writer.functionName,
      reportBucketArn: this.reports[role].bucket.arn,
      keyArn: parts(role).key.arn,
    });
    const reconcileRegion = (role: RegionRole) => ({
      provider: parts(role).provider,
      region: parts(role).config.region,
      accountId: parts(role).key.accountId,
      // Names as Terraform has them (spec): the document's own names, known at synth.
      clusterIdentifier: this.database[role].spec.clusterIdentifier,
      subnetGroupName: this.database[role].spec.dbSubnetGroupName,
      securityGroupId: parts(role).network.databaseSecurityGroup.id,
      storageKeyArn: this.database[role].storageKeyArn,
    });
    this.reconciliation = new Reconciliation(this, "reconcile", {
      naming,
      instanceClass: config.database.instanceClass,
      parameterGroupFamily: parameterGroupFamily(config.database.engineVersion),
      primary: reconcileRegion("primary"),
      secondary: reconcileRegion("secondary"),
      reconciler: {
        principals: onCallPrincipals(
          config.operatorPrincipalArns,
          parts("primary").key.accountId,
          naming,
        ),
        ledgerTable: this.ledger.name,
        primary: reconcilerTargets("primary"),
        secondary: reconcilerTargets("secondary"),
      },
    });

    stackOutputs(this, config);
  }

  /** `DR_CAPACITY`: the writer's instance count and class, and each region's instance plan. */
  private capacity(config: Config): string {
    const { naming } = this;
    const region = (role: RegionRole) => [
      this[role].config.region,
      {
        identifiers: Array.from({ length: config.database.primaryInstances }, (_, i) =>
          instanceIdentifier(naming, this[role].config.region, i),
        ),
        dbSubnetGroupName: this.database[role].cluster.dbSubnetGroupName,
        performanceInsightsKmsKeyId: this.database[role].storageKeyArn,
        regionCode: regionCode(this[role].config.region),
      },
    ];
    // What DR_DATABASE (the re-protect tasks' spec) also carries comes from that one spec, so
    // the readers RestoreCapacity adds and the instances re-protect creates cannot differ.
    const spec = this.database.spec;
    const capacity: DrCapacity = {
      instances: config.database.primaryInstances,
      standbyInstances: config.database.secondaryInstances,
      instanceClass: spec.instanceClass,
      engine: spec.engine,
      engineVersion: spec.engineVersion,
      monitoringRoleArn: spec.monitoringRoleArn,
      monitoringInterval: spec.monitoringInterval,
      caCertificateIdentifier: spec.caCertificateIdentifier,
      regions: Object.fromEntries([region("primary"), region("secondary")]),
    };
    return Fn.jsonencode(capacity);
  }

  private readinessTargets(config: Config, api: PaymentsApi): ReadinessTargets {
    const { naming } = this;
    const region = (role: RegionRole) => ({
      clusterArn: this.database[role].cluster.arn,
      keyArns: [this.database[role].storageKeyArn, this[role].key.arn],
      platformKeyArn: this[role].key.arn,
      taskRoleArns: Object.fromEntries(
        Object.entries(this.orchestration[role].functions).map(([task, f]) => [task, f.role.arn]),
      ),
      workflowRoleArn: this.drIam.workflowRoles[role].arn,
      // What the re-protect and capacity roles are granted on by name (dr-iam.ts: either region
      // may hold the writer, so the writer's count in both).
      instanceIdentifiers: Array.from(
        {
          length: Math.max(
            this.database.primary.instances.length,
            this.database.secondary.instances.length,
          ),
        },
        (_, i) => instanceIdentifier(naming, this[role].config.region, i),
      ),
      backupVaultName: (role === "primary" ? this.backup.primaryVault : this.backup.secondaryVault)
        .name,
      controlTableArn:
        role === "primary" ? this.tables.control.primaryArn : this.tables.control.replicaArn,
      subnetGroup: this.database[role].spec.dbSubnetGroupName,
      clusterParameterGroup: this.database[role].spec.dbClusterParameterGroupName,
    });
    return {
      accountId: this.primary.key.accountId,
      environmentSuffix: config.environmentSuffix,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      regions: {
        [config.primary.region]: region("primary"),
        [config.secondary.region]: region("secondary"),
      },
      paymentFunctions: Object.values(api.functions).map((f) => f.functionName),
      taskFunctions: drTaskFunctionNames(naming),
      reportWriter: naming.name("lambdaFunction", REPORT_FUNCTIONS.writer),
      tables: this.tables.all.map((t) => t.name),
      stateMachines: WORKFLOWS.map((w) => naming.name("stateMachine", w)),
      drillDocument: naming.name("ssmDocument", DRILL_RUNBOOK),
      proberRegion: config.secondary.region,
      parameterPrefix: naming.parameterPrefix,
      database: config.database,
      monitoringRoleArn: this.database.monitoringRoleArn,
      rpoTargetSeconds: config.failover.rpoTargetSeconds,
      lambdaBudget: lambdaBudget(config),
    };
  }

  private readinessEvaluator(
    role: RegionRole,
    config: Config,
    targets: ReadinessTargets,
    topology: string,
  ): ReadinessEvaluator {
    const parts = this[role];
    return new ReadinessEvaluator(this, `readiness-evaluator-${role}`, {
      provider: parts.provider,
      naming: this.naming,
      region: parts.config.region,
      key: parts.key,
      topic: parts.alerts,
      topology,
      targets,
      readiness: config.readiness,
      logRetentionDays: config.logRetentionDays,
      reports: {
        writerFunctionName: this.reports[role].writer.functionName,
        writerArn: this.reports[role].writer.function.arn,
        bucket: this.reports[role].bucket.bucket,
      },
    });
  }

  private backend(id: string, config: Config): void {
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
  }

  private regionalParts(region: RegionConfig, peer: RegionConfig, config: Config): RegionalParts {
    const { naming } = this;
    const provider = new AwsProvider(this, `aws-${region.role}`, {
      alias: region.role,
      region: region.region,
      defaultTags: [{ tags: naming.tags(region.role) }],
    });
    const key = new PlatformKey(this, `platform-key-${region.role}`, {
      provider,
      naming,
      region: region.region,
    });
    const network = new Network(this, `network-${region.role}`, {
      provider,
      naming,
      region,
      peerCidr: peer.vpcCidr,
      key,
      logRetentionDays: config.auditLogRetention.flowLogDays,
      natGateways: config.natGateways,
    });
    const bus = new RegionalEventBus(this, `events-${region.role}`, {
      provider,
      naming,
      region: region.region,
      key,
    });
    const alerts = new AlertTopic(this, `alerts-${region.role}`, {
      provider,
      naming,
      region: region.region,
      key,
      email: config.alertEmail,
    });
    return { role: region.role, config: region, provider, key, network, bus, alerts };
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
      accessLogRetentionDays: config.auditLogRetention.apiAccessDays,
      tables: this.tables,
      bus: parts.bus,
      zone: this.zone,
      databaseClusters: [
        { region: config.primary.region, cluster: this.database.primary.cluster },
        { region: config.secondary.region, cluster: this.database.secondary.cluster },
      ],
      controlStreamArn:
        parts.role === "primary"
          ? this.tables.control.primaryStreamArn
          : this.tables.control.replicaStreamArn,
    });
  }

  private observed(role: RegionRole, api: PaymentsApi): ObservedRegion {
    const parts = this[role];
    const peer = role === "primary" ? this.secondary : this.primary;
    return {
      region: parts.config.region,
      clusterIdentifier: this.database[role].cluster.clusterIdentifier,
      apiId: api.api.id,
      functionNames: Object.values(api.functions).map((f) => f.functionName),
      healthFunctionName: api.functions.health!.functionName,
      tableNames: this.tables.all.map((t) => t.name),
      peerRegion: peer.config.region,
      writerConnectionsSafe: this.connectionBudget.find(
        (b) => b.writerRegion === parts.config.region,
      )!.safe,
    };
  }

  /** `DR_TOPOLOGY`: what every DR function knows about both regions (identical in both). */
  private topology(config: Config): string {
    const region = (role: RegionRole): DrRegion => {
      const parts = this[role];
      const api = this.services[role].api;
      const healthCheck =
        role === "primary" ? this.routing.primaryHealthCheck : this.routing.secondaryHealthCheck;
      return {
        region: parts.config.region,
        // The writer's region is the "deployed primary": active while the flag was never
        // written, and where a failback returns to.
        role: role === this.writerRole ? "primary" : "secondary",
        clusterArn: this.database[role].cluster.arn,
        clusterIdentifier: this.database[role].cluster.clusterIdentifier,
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
    return drTopology({
      environmentSuffix: config.environmentSuffix,
      globalClusterIdentifier: this.database.globalCluster.globalClusterIdentifier,
      parameterPrefix: this.naming.parameterPrefix,
      controlTable: this.tables.control.name,
      ...(this.zone
        ? { dns: { hostedZoneId: this.zone.zone.zoneId, recordName: this.routing.recordName! } }
        : {}),
      regions: [region("primary"), region("secondary")],
    });
  }
}

/** How Route 53 reaches a region's API: its execute-api host and, with a domain, its alias. */
function routedRegion(api: PaymentsApi, region: string) {
  return {
    region,
    apiHost: api.host,
    aliasTarget: api.customDomain
      ? {
          name: api.customDomain.domainNameConfiguration.targetDomainName,
          zoneId: api.customDomain.domainNameConfiguration.hostedZoneId,
        }
      : undefined,
  };
}
