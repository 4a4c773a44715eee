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
  /**
   * The slot holding the writer (WRITER_REGION): a drill moves the active region from there to
   * the other slot and back, and its schedule lives in the other slot.
   * @default "primary"
   */
  readonly writer?: "primary" | "secondary";
  /** EventBridge's role (DrIam.eventsRole): starts the scheduled drill as the drill role. */
  readonly eventsRole: IamRole;
}

/**
 * The drill runbook as an SSM Automation document in both regions (on-call can run it from
 * either), and its monthly schedule in the standby region, the one a drill moves to.
 */
export class Drills extends Construct {
  public readonly documents: Record<"primary" | "secondary", SsmDocument>;
  public readonly schedule: CloudwatchEventRule;

  constructor(scope: Construct, id: string, props: DrillsProps) {
    super(scope, id);
    const { naming } = props;
    const writerRole = props.writer ?? "primary";
    // The document's "primary" is where a drill starts and returns to: the writer.
    const primary = props[writerRole];
    const secondary = props[writerRole === "primary" ? "secondary" : "primary"];
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

    // Hosted in the primary slot the schedule takes other ids (see standbyId in the stack).
    const hostedId = (base: string) => (writerRole === "primary" ? base : `${base}-in-primary`);
    this.schedule = new CloudwatchEventRule(this, hostedId("schedule"), {
      provider: secondary.provider,
      name: naming.name("eventRule", "dr-drill", secondary.region),
      description: `Monthly DR drill: switchover to ${secondary.region} and back`,
      scheduleExpression: props.drills.schedule,
      state: props.drills.enabled ? "ENABLED" : "DISABLED",
    });
    new CloudwatchEventTarget(this, hostedId("target"), {
      provider: secondary.provider,
      rule: this.schedule.name,
      targetId: "dr-drill",
      // The $DEFAULT version of the document in the rule's region.
      arn: `${Fn.replace(this.documents[writerRole === "primary" ? "secondary" : "primary"].arn, ":document/", ":automation-definition/")}:$DEFAULT`,
      roleArn: props.eventsRole.arn,
      input: JSON.stringify({ Workflow: ["switchover"], FailBack: ["true"] }),
    });
  }
}
