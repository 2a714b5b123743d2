import { SCHEDULER_INPUT_TEMPLATE } from '@fanout/shared';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { assumeRolePolicy, schedulerPolicy } from './policy.js';

/**
 * Scheduler retries a failed delivery to Lambda (throttled or unavailable) this
 * often and this long. A run delivered after the next one started is stale, so
 * the event age stays well under the shortest sensible schedule interval.
 */
export const SCHEDULE_RETRY = { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 300 } as const;

/** Scheduler's built-in group; named on the schedule so the role's trust can name it too. */
export const SCHEDULE_GROUP = 'default';

/**
 * The ARN the role's trust pins `aws:SourceArn` to. It must be a schedule-group ARN,
 * never a schedule's (aws-facts-2 section 8).
 */
export function scheduleGroupArn(
  partition: string,
  region: string,
  accountId: string,
  group: string,
): string {
  return `arn:${partition}:scheduler:${region}:${accountId}:schedule-group/${group}`;
}

export interface ManagerScheduleArgs {
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly managerArn: pulumi.Input<string>;
  readonly deadLetterQueueArn: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  readonly partition: pulumi.Input<string>;
}

/**
 * Starts the manager on the stack's schedule through EventBridge Scheduler,
 * which, unlike a scheduled EventBridge rule, has its own retry policy,
 * dead-letter queue and time zone for cron expressions.
 */
export class ManagerSchedule extends pulumi.ComponentResource {
  readonly schedule: aws.scheduler.Schedule;
  readonly role: aws.iam.Role;
  readonly name: pulumi.Output<string>;
  readonly expression: pulumi.Output<string>;

  constructor(name: string, args: ManagerScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fanout:schedule:ManagerSchedule', name, {}, opts);
    const parent = { parent: this };

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description: 'Lets EventBridge Scheduler start the Fanout manager',
        // Only schedules of this account's group may use the role (confused deputy).
        assumeRolePolicy: pulumi
          .all([args.partition, args.region, args.accountId])
          .apply(([partition, region, account]) =>
            JSON.stringify(
              assumeRolePolicy('scheduler.amazonaws.com', {
                account,
                arnLike: scheduleGroupArn(partition, region, account, SCHEDULE_GROUP),
              }),
            ),
          ),
      },
      parent,
    );

    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi
          .all([args.managerArn, args.deadLetterQueueArn])
          .apply(([managerArn, queueArn]) => JSON.stringify(schedulerPolicy(managerArn, queueArn))),
      },
      parent,
    );

    this.schedule = new aws.scheduler.Schedule(
      `${name}-schedule`,
      {
        description: 'Starts a Fanout run',
        groupName: SCHEDULE_GROUP,
        scheduleExpression: args.expression,
        scheduleExpressionTimezone: args.timezone,
        state: args.enabled ? 'ENABLED' : 'DISABLED',
        // Runs start on time: the run id derives from the scheduled time, not from delivery.
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: args.managerArn,
          roleArn: this.role.arn,
          input: JSON.stringify(SCHEDULER_INPUT_TEMPLATE),
          retryPolicy: { ...SCHEDULE_RETRY },
          deadLetterConfig: { arn: args.deadLetterQueueArn },
        },
      },
      // Scheduler validates nothing at create time; a missing permission shows up as failed runs.
      { parent: this, dependsOn: [rolePolicy] },
    );
    this.name = this.schedule.name;
    this.expression = this.schedule.scheduleExpression;

    this.registerOutputs({ name: this.name, expression: this.expression });
  }
}
