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

export interface ManagerScheduleArgs {
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly managerArn: pulumi.Input<string>;
  readonly deadLetterQueueArn: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
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
        assumeRolePolicy: pulumi
          .output(args.accountId)
          .apply((account) => JSON.stringify(assumeRolePolicy('scheduler.amazonaws.com', account))),
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
