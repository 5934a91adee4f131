# The nightly miner: one ECS Fargate task started by EventBridge Scheduler (when batch_shards
# is 0), logging JSON lines to its own log group.

resource "aws_cloudwatch_log_group" "miner" {
  name              = "/ecs/${var.name}-miner"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_kms_key_arn
  tags              = local.tags
  #checkov:skip=CKV_AWS_338:operational logs; retention is a variable (default 90 days), the run reports are kept in S3
  #checkov:skip=CKV_AWS_158:KMS is optional (cloudwatch_kms_key_arn); the logs hold URLs already in the ALB logs, encrypted by CloudWatch by default
}

resource "aws_ecs_task_definition" "miner" {
  family                   = "${var.name}-miner"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.miner_cpu
  memory                   = var.miner_memory
  task_role_arn            = aws_iam_role.miner_task.arn
  execution_role_arn       = aws_iam_role.miner_execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only; the miner writes nothing locally when state, list and
  # report are in S3, and /tmp is a scratch volume for anything a library might need.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "greenlight-miner"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    environment            = [for k, v in local.miner_environment : { name = k, value = v }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.miner.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "miner"
      }
    }
  }])

  tags = local.tags
}

# ---- the schedule -----------------------------------------------------------------------------

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    sid     = "SchedulerAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  dynamic "statement" {
    for_each = var.batch_shards == 0 ? [1] : []
    content {
      sid       = "RunMinerTask"
      actions   = ["ecs:RunTask"]
      resources = ["${aws_ecs_task_definition.miner.arn_without_revision}:*"]
      condition {
        test     = "ArnEquals"
        variable = "ecs:cluster"
        values   = [var.ecs_cluster_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.batch_shards == 0 ? [1] : []
    content {
      sid       = "PassMinerRoles"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.miner_task.arn, aws_iam_role.miner_execution.arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.batch_shards > 0 ? [1] : []
    content {
      sid       = "StartShardedRun"
      actions   = ["states:StartExecution"]
      resources = [aws_sfn_state_machine.sharded[0].arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "greenlight-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "nightly" {
  name                         = "${var.name}-nightly"
  description                  = "greenlight-miner: mine yesterday (UTC) and write the acceptance list"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  #checkov:skip=CKV_AWS_297:the schedule holds a task definition ARN, subnets and an empty input, no data worth a customer key

  target {
    arn      = var.batch_shards == 0 ? var.ecs_cluster_arn : aws_sfn_state_machine.sharded[0].arn
    role_arn = aws_iam_role.scheduler.arn
    # The state machine's input: no date, so the jobs mine yesterday (UTC).
    input = var.batch_shards > 0 ? jsonencode({}) : null

    # A failed start is retried for up to an hour; the run itself is not retried (a second
    # run of the same day replaces its tally, so a manual rerun is always safe).
    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }

    dynamic "ecs_parameters" {
      for_each = var.batch_shards == 0 ? [1] : []
      content {
        task_definition_arn = aws_ecs_task_definition.miner.arn
        launch_type         = "FARGATE"
        task_count          = 1
        network_configuration {
          subnets          = var.subnet_ids
          security_groups  = var.security_group_ids
          assign_public_ip = false
        }
      }
    }
  }
}
