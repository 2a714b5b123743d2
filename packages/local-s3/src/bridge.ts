import type { NotificationRule } from '@fanout/shared';
import { NotificationDeliveryError } from './errors.js';
import {
  buildS3EventRecord,
  createSequencer,
  type ObjectCreated,
  ruleMatches,
  type S3Event,
} from './notifications.js';

/** Waits between delivery attempts when the target refuses an event (S3 retries too). */
export const DEFAULT_DELIVERY_RETRY_DELAYS_MS: readonly number[] = [100, 500, 2_000];

export interface NotificationBridgeOptions {
  readonly rule: NotificationRule;
  readonly region: string;
  readonly configurationId: string;
  readonly deliver: (event: S3Event) => Promise<void>;
  readonly duplicateRate: number;
  readonly random: () => number;
  readonly retryDelaysMs?: readonly number[];
  readonly onDeliveryError?: (error: NotificationDeliveryError, event: S3Event) => void;
}

export interface NotificationStats {
  /** Events accepted by the target, duplicates included. */
  readonly notificationsDelivered: number;
  readonly duplicatesInjected: number;
  /** Events dropped after every retry. */
  readonly notificationsFailed: number;
  /** Object-created events the rule filtered out. */
  readonly notificationsFiltered: number;
}

/**
 * Turns object-created facts into S3 notifications and delivers each one
 * asynchronously, at least once, as S3 does. An event counts as pending from
 * the moment the write is stored (before the writer gets its response) until
 * the target has accepted it, so `drained()` after a write covers its event.
 */
export class NotificationBridge {
  private pendingCount = 0;
  private waiters: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly nextSequencer = createSequencer();
  private counts = {
    notificationsDelivered: 0,
    duplicatesInjected: 0,
    notificationsFailed: 0,
    notificationsFiltered: 0,
  };

  constructor(private readonly options: NotificationBridgeOptions) {}

  accept(created: ObjectCreated): void {
    if (this.stopped) return;
    if (!ruleMatches(this.options.rule, created.eventName, created.key)) {
      this.counts.notificationsFiltered += 1;
      return;
    }
    const sequencer = this.nextSequencer();
    const { duplicateRate, random } = this.options;
    const copies = duplicateRate > 0 && random() < duplicateRate ? 2 : 1;
    this.counts.duplicatesInjected += copies - 1;
    this.pendingCount += copies;
    const event: S3Event = {
      Records: [
        buildS3EventRecord(created, {
          region: this.options.region,
          configurationId: this.options.configurationId,
          sequencer,
        }),
      ],
    };
    for (let copy = 0; copy < copies; copy += 1) this.attempt(event, created.key, 1);
  }

  pending(): number {
    return this.pendingCount;
  }

  drained(): Promise<void> {
    if (this.pendingCount === 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stats(): NotificationStats {
    return { ...this.counts };
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.release();
  }

  private attempt(event: S3Event, key: string, attempt: number): void {
    if (this.stopped) return;
    // Never inside the writer's request: S3 delivers after the write returns.
    setImmediate(() => {
      if (this.stopped) return;
      Promise.resolve()
        .then(() => this.options.deliver(event))
        .then(
          () => {
            this.counts.notificationsDelivered += 1;
            this.settle();
          },
          (error: unknown) => this.retry(event, key, attempt, error),
        );
    });
  }

  private retry(event: S3Event, key: string, attempt: number, error: unknown): void {
    const delays = this.options.retryDelaysMs ?? DEFAULT_DELIVERY_RETRY_DELAYS_MS;
    const delay = delays[attempt - 1];
    if (delay === undefined) {
      this.counts.notificationsFailed += 1;
      this.options.onDeliveryError?.(new NotificationDeliveryError(key, attempt, error), event);
      this.settle();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.attempt(event, key, attempt + 1);
    }, delay);
    this.timers.add(timer);
  }

  private settle(): void {
    this.pendingCount -= 1;
    if (this.pendingCount === 0) this.release();
  }

  private release(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve();
  }
}
