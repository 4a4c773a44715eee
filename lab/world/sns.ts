// SNS in the lab: the alert topic of each region, recording what on-call would be paged with
// (the DR tasks' NotifierPort). Publish semantics: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
// Not modelled: subscriptions, delivery, the Subject rules (the real adapter enforces them).
import type { NotifierPort } from "../../functions/dr/shared/ports";

export interface Page {
  readonly region: string;
  readonly at: number;
  readonly subject: string;
  readonly message: string;
}

export class LabNotifier implements NotifierPort {
  constructor(
    private readonly pages: Page[],
    private readonly region: string,
    private readonly now: () => number,
    private readonly reach: () => Promise<void>,
  ) {}

  async publish(subject: string, message: string): Promise<void> {
    await this.reach();
    this.pages.push({ region: this.region, at: this.now(), subject, message });
  }
}
