// The ledger on the overview dashboard: a CloudWatch custom widget. The dashboard invokes this
// function with the viewer's credentials and shows the HTML it returns ("Details about custom
// widgets in CloudWatch", AmazonCloudWatch/latest/monitoring/add_custom_widget_dashboard_about).
// Read-only: it holds no permission to write a report, so viewing cannot forge evidence.
import type { LedgerStore } from "../shared/ports";
import { renderLedgerFragment } from "../shared/render";

export interface WidgetEvent {
  /** Set when the console asks the widget to describe itself. */
  readonly describe?: boolean;
  /** Widget parameters (`params` in the dashboard JSON). */
  readonly limit?: number;
  readonly widgetContext?: { readonly params?: { readonly limit?: number } };
}

export interface WidgetDeps {
  readonly ledger: LedgerStore;
  readonly now: () => Date;
  readonly environment: string;
  readonly maxDrillAgeDays: number;
}

export const DEFAULT_LIMIT = 20;

export const DESCRIPTION =
  "The payments-dr ledger: when each drill last passed, the RTO/RPO trend per kind of run and the last runs with links to their reports. Parameter: limit (rows, 1-100, default 20).";

export async function renderWidget(event: WidgetEvent, deps: WidgetDeps): Promise<string> {
  if (event.describe) return DESCRIPTION;
  const requested = Number(event.limit ?? event.widgetContext?.params?.limit ?? DEFAULT_LIMIT);
  const limit =
    Number.isInteger(requested) && requested >= 1 && requested <= 100 ? requested : DEFAULT_LIMIT;
  const [entries, since] = await Promise.all([deps.ledger.recent(500), deps.ledger.createdAt()]);
  return renderLedgerFragment(entries, {
    now: deps.now(),
    since,
    maxDrillAgeDays: deps.maxDrillAgeDays,
    limit,
    environment: deps.environment,
  });
}
