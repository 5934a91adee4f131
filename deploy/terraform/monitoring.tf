# What to alarm on: metrics from the JSON log lines (namespace "greenlight"), alarms on a failed
# or missing nightly run and on a failed gate, and an EventBridge rule for a miner task that
# stopped with a non-zero exit code (also when it died before logging, e.g. out of memory).

locals {
  metric_namespace = "greenlight"
  alarms           = var.alarm_topic_arn == null ? 0 : 1
  miner_finished   = "$.message = \"greenlight-miner finished\""
}

resource "aws_cloudwatch_log_metric_filter" "miner_runs" {
  name           = "${var.name}-miner-runs"
  log_group_name = aws_cloudwatch_log_group.miner.name
  pattern        = "{ ${local.miner_finished} }"
  metric_transformation {
    name      = "MinerRuns"
    namespace = local.metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "miner_failures" {
  name           = "${var.name}-miner-failures"
  log_group_name = aws_cloudwatch_log_group.miner.name
  pattern        = "{ ${local.miner_finished} && $.exit_code != 0 }"
  metric_transformation {
    name      = "MinerFailures"
    namespace = local.metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "miner_urls_listed" {
  name           = "${var.name}-miner-urls-listed"
  log_group_name = aws_cloudwatch_log_group.miner.name
  pattern        = "{ ${local.miner_finished} && $.exit_code = 0 }"
  metric_transformation {
    name      = "ListedUrls"
    namespace = local.metric_namespace
    value     = "$.urls_listed"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "miner_strata_left_out" {
  name           = "${var.name}-miner-strata-left-out"
  log_group_name = aws_cloudwatch_log_group.miner.name
  pattern        = "{ ${local.miner_finished} && $.exit_code = 0 }"
  metric_transformation {
    name      = "StrataLeftOut"
    namespace = local.metric_namespace
    value     = "$.strata_left_out"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "miner_objects_failed" {
  name           = "${var.name}-miner-objects-failed"
  log_group_name = aws_cloudwatch_log_group.miner.name
  pattern        = "{ ${local.miner_finished} && $.objects_failed > 0 }"
  metric_transformation {
    name      = "ObjectsFailed"
    namespace = local.metric_namespace
    value     = "$.objects_failed"
    unit      = "Count"
  }
}

# The tester under Lambda logs one line per invocation whose message is its verdict.
resource "aws_cloudwatch_log_metric_filter" "gate_failures" {
  name           = "${var.name}-gate-failures"
  log_group_name = aws_cloudwatch_log_group.tester.name
  pattern        = "{ $.message = \"FAILED*\" }"
  metric_transformation {
    name      = "GateFailures"
    namespace = local.metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "miner_failed" {
  count               = local.alarms
  alarm_name          = "${var.name}-miner-failed"
  alarm_description   = "greenlight-miner exited non-zero: the list was not replaced (see the run's JSON line and the report in S3; docs/operations.md)."
  namespace           = local.metric_namespace
  metric_name         = "MinerFailures"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "miner_missing" {
  count               = local.alarms
  alarm_name          = "${var.name}-miner-missing"
  alarm_description   = "No greenlight-miner run finished in the last day: the schedule, the task start or the task itself failed (the list is getting stale)."
  namespace           = local.metric_namespace
  metric_name         = "MinerRuns"
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "gate_failed" {
  count               = local.alarms
  alarm_name          = "${var.name}-gate-failed"
  alarm_description   = "greenlight-tester failed a release gate: the deployment was rolled back (see the tester's log group)."
  namespace           = local.metric_namespace
  metric_name         = "GateFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = local.tags
}

resource "aws_cloudwatch_event_rule" "miner_task_failed" {
  count       = local.alarms
  name        = "${var.name}-miner-task-failed"
  description = "A greenlight-miner task stopped with a non-zero exit code (failed, out of memory, killed); a task that never started is caught by the miner-missing alarm."
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      lastStatus        = ["STOPPED"]
      taskDefinitionArn = [{ prefix = "${aws_ecs_task_definition.miner.arn_without_revision}:" }]
      containers = {
        exitCode = [{ "anything-but" = 0 }]
      }
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "miner_task_failed" {
  count = local.alarms
  rule  = aws_cloudwatch_event_rule.miner_task_failed[0].name
  arn   = var.alarm_topic_arn
}
