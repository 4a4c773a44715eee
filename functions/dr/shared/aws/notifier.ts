// SNS: one alert topic.
import { PublishCommand } from "@aws-sdk/client-sns";
import type { SNSClient } from "@aws-sdk/client-sns";
import { snsSubject } from "../format";
import type { NotifierPort } from "../ports";
import { toPortError } from "./errors";

export class SnsNotifier implements NotifierPort {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<void> {
    try {
      await this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: snsSubject(subject),
          Message: message,
        }),
      );
    } catch (error) {
      throw toPortError("sns:Publish", error);
    }
  }
}
