import { FUNCTION_IDS, type FunctionId } from '@fanout/shared';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** Alarms look at five-minute windows: shorter adds cost and noise for a 10-minute schedule. */
const ALARM_PERIOD_SECONDS = 300;

export interface PipelineAlarmsArgs {
  readonly email: string;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly functionNames: { readonly [K in FunctionId]: pulumi.Input<string> };
}

/**
 * Tells a person when work was lost (the dead-letter queue holds an event that
 * ran out of retries) or a function threw. Both mean a run needs attention.
 */
export class PipelineAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;

  constructor(name: string, args: PipelineAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fanout:monitoring:PipelineAlarms', name, {}, opts);
    const parent = { parent: this };

    // Not encrypted with the AWS managed SNS key: CloudWatch alarms cannot publish to it.
    this.topic = new aws.sns.Topic(`${name}-topic`, {}, parent);
    new aws.sns.TopicSubscription(
      `${name}-email`,
      { topic: this.topic.arn, protocol: 'email', endpoint: args.email },
      parent,
    );
    const actions = [this.topic.arn];

    new aws.cloudwatch.MetricAlarm(
      `${name}-dlq-not-empty`,
      {
        alarmDescription: 'Fanout events ran out of retries and wait in the dead-letter queue',
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: args.deadLetterQueueName },
        statistic: 'Maximum',
        period: ALARM_PERIOD_SECONDS,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: actions,
        okActions: actions,
      },
      parent,
    );

    for (const id of FUNCTION_IDS) {
      const functionName = args.functionNames[id];
      new aws.cloudwatch.MetricAlarm(
        `${name}-${id}-errors`,
        {
          alarmDescription: pulumi.interpolate`${functionName} reported errors`,
          namespace: 'AWS/Lambda',
          metricName: 'Errors',
          dimensions: { FunctionName: functionName },
          statistic: 'Sum',
          period: ALARM_PERIOD_SECONDS,
          evaluationPeriods: 1,
          threshold: 0,
          comparisonOperator: 'GreaterThanThreshold',
          treatMissingData: 'notBreaching',
          alarmActions: actions,
        },
        parent,
      );
    }

    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
