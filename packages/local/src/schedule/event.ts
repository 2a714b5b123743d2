import { randomUUID } from 'node:crypto';

/** What an EventBridge scheduled rule sends its target. */
export interface ScheduledRuleEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Scheduled Event';
  readonly source: 'aws.events';
  readonly account: string;
  /** The scheduled time, ISO 8601 to the second, UTC (`2026-11-25T13:10:00Z`). */
  readonly time: string;
  readonly region: string;
  /** The rule's ARN. */
  readonly resources: readonly string[];
  readonly detail: Record<string, never>;
}

export interface ScheduledEventOptions {
  readonly ruleName: string;
  readonly region: string;
  readonly account: string;
}

/** EventBridge writes times without milliseconds. */
export function eventBridgeTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function scheduledEvent(time: Date, options: ScheduledEventOptions): ScheduledRuleEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: options.account,
    time: eventBridgeTime(time),
    region: options.region,
    resources: [`arn:aws:events:${options.region}:${options.account}:rule/${options.ruleName}`],
    detail: {},
  };
}
