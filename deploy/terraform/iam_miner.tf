# The miner's permissions (the ECS task role, also used by the Batch jobs): list and read the
# ALB log tree of one account and region only, read/write/delete the state prefix only, write
# the list and the report keys only. Every statement names its exact resources.

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    sid     = "EcsTasksAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "miner" {
  # The miner's walk of the log tree (src/source/s3.rs), one delimiter listing each:
  # AWSLogs/ (accounts), AWSLogs/<account>/elasticloadbalancing/ (regions), then the day
  # folders below <region>/. Listing anything else in the log bucket is refused.
  statement {
    sid       = "ListAlbLogTree"
    actions   = ["s3:ListBucket"]
    resources = [local.log_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        local.aws_logs_prefix,
        "${local.aws_logs_prefix}${local.log_account}/elasticloadbalancing/",
        "${local.elb_logs_prefix}*",
      ]
    }
  }

  statement {
    sid       = "ReadAlbLogObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.log_bucket_arn}/${local.elb_logs_prefix}*"]
  }

  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [local.release_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.state_prefix}/", "${local.state_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWriteExpireState"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.state_objects_arn]
  }

  statement {
    sid       = "WriteListAndReport"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [local.list_object_arn, local.report_object_arn]
  }

  dynamic "statement" {
    for_each = length(var.log_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "UseBucketKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = var.log_kms_key_arns
    }
  }
}

resource "aws_iam_role" "miner_task" {
  name               = "${var.name}-miner-task"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "miner_task" {
  name   = "greenlight-miner"
  role   = aws_iam_role.miner_task.id
  policy = data.aws_iam_policy_document.miner.json
}

# The execution role: pull the image, write the container's logs. Nothing else.
data "aws_iam_policy_document" "miner_execution" {
  statement {
    sid     = "WriteContainerLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${aws_cloudwatch_log_group.miner.arn}:log-stream:*",
    ]
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn == null ? [] : [1]
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = [var.ecr_repository_arn]
    }
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn == null ? [] : [1]
    content {
      # AWS-REQUIRED-STAR: ecr:GetAuthorizationToken has no resource type; IAM accepts only "*".
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "miner_execution" {
  name               = "${var.name}-miner-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "miner_execution" {
  name   = "greenlight-miner-execution"
  role   = aws_iam_role.miner_execution.id
  policy = data.aws_iam_policy_document.miner_execution.json
}
