import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import type { DrillConfig } from "../config";
import { renderRunbook } from "../lib/runbook";
import type { Naming } from "../naming";

export const DRILL_RUNBOOK = "dr-drill";

export interface DrillRegion {
  readonly provider: AwsProvider;
  readonly region: string;
  /** The role the drill runs as (DrIam.drillRoles). */
  readonly drillRole: IamRole;
  readonly alertTopicArn: string;
  /** The region's report writer, which stores each drill's report. */
  readonly reportWriterFunctionName: string;
}

export interface DrillsProps {
  readonly naming: Naming;
  readonly drills: DrillConfig;
  readonly globalClusterIdentifier: string;
  readonly primary: DrillRegion;
  readonly secondary: DrillRegion;
  /** EventBridge's role (DrIam.eventsRole): starts the scheduled drill as the drill role. */
  readonly eventsRole: IamRole;
}

/**
 * The drill runbook as an SSM Automation document in both regions (on-call can run it from
 * either), and its monthly schedule in the secondary region, the one a drill moves to.
 */
export class Drills extends Construct {
  public readonly documents: Record<"primary" | "secondary", SsmDocument>;
  public readonly schedule: CloudwatchEventRule;

  constructor(scope: Construct, id: string, props: DrillsProps) {
    super(scope, id);
    const { naming, primary, secondary } = props;
    const documentName = naming.name("ssmDocument", DRILL_RUNBOOK);
    const document = (key: "primary" | "secondary") => {
      const region = props[key];
      return new SsmDocument(this, `${key}-document`, {
        provider: region.provider,
        name: documentName,
        documentType: "Automation",
        documentFormat: "YAML",
        content: renderRunbook(DRILL_RUNBOOK, {
          EnvironmentSuffix: naming.suffix,
          PrimaryRegion: primary.region,
          SecondaryRegion: secondary.region,
          ParameterPrefix: naming.parameterPrefix,
          GlobalClusterIdentifier: props.globalClusterIdentifier,
          StateMachinePrefix: "payments-",
          AutomationRoleArn: region.drillRole.arn,
          AlertTopicArn: region.alertTopicArn,
          DocumentRegion: region.region,
          ReportWriterFunction: region.reportWriterFunctionName,
        }),
      });
    };
    this.documents = { primary: document("primary"), secondary: document("secondary") };

    this.schedule = new CloudwatchEventRule(this, "schedule", {
      provider: secondary.provider,
      name: naming.name("eventRule", "dr-drill", secondary.region),
      description: `Monthly DR drill: switchover to ${secondary.region} and back`,
      scheduleExpression: props.drills.schedule,
      state: props.drills.enabled ? "ENABLED" : "DISABLED",
    });
    new CloudwatchEventTarget(this, "target", {
      provider: secondary.provider,
      rule: this.schedule.name,
      targetId: "dr-drill",
      // The $DEFAULT version of the document in the rule's region.
      arn: `${Fn.replace(this.documents.secondary.arn, ":document/", ":automation-definition/")}:$DEFAULT`,
      roleArn: props.eventsRole.arn,
      input: JSON.stringify({ Workflow: ["switchover"], FailBack: ["true"] }),
    });
  }
}
