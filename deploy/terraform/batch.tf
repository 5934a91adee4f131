# Sharded mining (batch_shards = N >= 2): an AWS Batch array job on Fargate runs N shards
# (`greenlight-miner --shard I/N`: the index from AWS_BATCH_JOB_ARRAY_INDEX, N from
# GREENLIGHT_SHARDS), each writing a partial tally to the state prefix; then one
# `greenlight-miner merge` job combines them into the day's tally and writes the list. A Step
# Functions state machine runs the two in order (AWS's own schedulers; nothing home-made).
# The nightly schedule starts it with {} (the day before the execution's start time, passed to
# every job as GREENLIGHT_RUN_TIME); a rerun of one day passes {"date": "YYYY-MM-DD"}
# (GREENLIGHT_DATE).

# The container writes nothing locally (state, list and report are S3 objects), so its root
# filesystem is read-only and it needs no scratch volume.
locals {
  batch          = var.batch_shards > 0 ? 1 : 0
  batch_platform = var.cpu_architecture
  batch_container = {
    image                  = var.image
    jobRoleArn             = aws_iam_role.miner_task.arn
    executionRoleArn       = aws_iam_role.miner_execution.arn
    readonlyRootFilesystem = true
    user                   = "65532"
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.miner_cpu / 1024) },
      { type = "MEMORY", value = tostring(var.miner_memory) },
    ]
    networkConfiguration         = { assignPublicIp = "DISABLED" }
    fargatePlatformConfiguration = { platformVersion = "LATEST" }
    runtimePlatform = {
      operatingSystemFamily = "LINUX"
      cpuArchitecture       = local.batch_platform
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.miner.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "batch"
      }
    }
  }
}

resource "aws_batch_compute_environment" "miner" {
  count                    = local.batch
  compute_environment_name = "${var.name}-miner"
  type                     = "MANAGED"

  compute_resources {
    type               = "FARGATE"
    max_vcpus          = var.batch_max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = local.tags
}

resource "aws_batch_job_queue" "miner" {
  count    = local.batch
  name     = "${var.name}-miner"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.miner[0].arn
  }

  tags = local.tags
}

resource "aws_batch_job_definition" "shard" {
  count                 = local.batch
  name                  = "${var.name}-miner-shard"
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true

  retry_strategy {
    attempts = 2
  }
  timeout {
    attempt_duration_seconds = 6 * 3600
  }

  container_properties = jsonencode(merge(local.batch_container, {
    environment = [
      for k, v in merge(local.miner_environment, { GREENLIGHT_SHARDS = tostring(var.batch_shards) }) :
      { name = k, value = v }
    ]
  }))

  tags = local.tags
}

resource "aws_batch_job_definition" "merge" {
  count                 = local.batch
  name                  = "${var.name}-miner-merge"
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true

  retry_strategy {
    attempts = 2
  }
  timeout {
    attempt_duration_seconds = 2 * 3600
  }

  container_properties = jsonencode(merge(local.batch_container, {
    command = ["merge"]
    environment = [
      for k, v in merge(local.miner_environment, { GREENLIGHT_SHARDS = tostring(var.batch_shards) }) :
      { name = k, value = v }
    ]
  }))

  tags = local.tags
}

# ---- the state machine: shards, then merge -----------------------------------------------------

data "aws_iam_policy_document" "assume_states" {
  statement {
    sid     = "StatesAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "sharded_run" {
  count = local.batch

  statement {
    sid     = "SubmitMinerJobs"
    actions = ["batch:SubmitJob"]
    resources = [
      aws_batch_job_queue.miner[0].arn,
      "arn:${local.partition}:batch:${local.region}:${local.account}:job-definition/${aws_batch_job_definition.shard[0].name}:*",
      "arn:${local.partition}:batch:${local.region}:${local.account}:job-definition/${aws_batch_job_definition.merge[0].name}:*",
    ]
  }

  statement {
    sid       = "StopMinerJobs"
    actions   = ["batch:TerminateJob"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account}:job/*"]
  }

  statement {
    # AWS-REQUIRED-STAR: batch:DescribeJobs has no resource type; IAM accepts only "*". The
    # .sync integration polls it to wait for the jobs.
    sid       = "WatchMinerJobs"
    actions   = ["batch:DescribeJobs"]
    resources = ["*"]
  }

  statement {
    # The managed rule the .sync integration uses to learn that a job finished.
    sid       = "SyncRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account}:rule/StepFunctionsGetEventsForBatchJobsRule"]
  }
}

resource "aws_iam_role" "sharded_run" {
  count              = local.batch
  name               = "${var.name}-sharded-run"
  assume_role_policy = data.aws_iam_policy_document.assume_states.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "sharded_run" {
  count  = local.batch
  name   = "greenlight-sharded-run"
  role   = aws_iam_role.sharded_run[0].id
  policy = data.aws_iam_policy_document.sharded_run[0].json
}

locals {
  # one(): the ARN, or null when batch_shards is 0 (then nothing uses these).
  shards_job = {
    JobName         = "${var.name}-shards"
    JobQueue        = one(aws_batch_job_queue.miner[*].arn)
    JobDefinition   = one(aws_batch_job_definition.shard[*].arn)
    ArrayProperties = { Size = var.batch_shards }
  }
  merge_job = {
    JobName       = "${var.name}-merge"
    JobQueue      = one(aws_batch_job_queue.miner[*].arn)
    JobDefinition = one(aws_batch_job_definition.merge[*].arn)
  }
  date_override = { Environment = [{ Name = "GREENLIGHT_DATE", "Value.$" = "$.date" }] }
  # Without a date, every job mines the day before the execution's start (not before its own
  # start): shards that run past midnight and the merge after them still agree on the day.
  run_time_override = {
    Environment = [{ Name = "GREENLIGHT_RUN_TIME", "Value.$" = "$$.Execution.StartTime" }]
  }
}

resource "aws_sfn_state_machine" "sharded" {
  count    = local.batch
  name     = "${var.name}-sharded-miner"
  role_arn = aws_iam_role.sharded_run[0].arn

  # Without "date" in the input each job mines the day before the execution started (UTC,
  # GREENLIGHT_RUN_TIME); with {"date": "YYYY-MM-DD"} the jobs get GREENLIGHT_DATE. Each job is waited for (.sync); a failed shard fails the run
  # before the merge, so no list is built from a partial day.
  definition = jsonencode({
    Comment = "greenlight: mine a day in ${var.batch_shards} shards, then merge and write the list"
    StartAt = "WhichDay"
    States = {
      WhichDay = {
        Type    = "Choice"
        Choices = [{ Variable = "$.date", IsPresent = true, Next = "ShardsOfDate" }]
        Default = "Shards"
      }
      Shards = {
        Type       = "Task"
        Resource   = "arn:${local.partition}:states:::batch:submitJob.sync"
        Parameters = merge(local.shards_job, { ContainerOverrides = local.run_time_override })
        ResultPath = null
        Next       = "Merge"
      }
      Merge = {
        Type       = "Task"
        Resource   = "arn:${local.partition}:states:::batch:submitJob.sync"
        Parameters = merge(local.merge_job, { ContainerOverrides = local.run_time_override })
        End        = true
      }
      ShardsOfDate = {
        Type       = "Task"
        Resource   = "arn:${local.partition}:states:::batch:submitJob.sync"
        Parameters = merge(local.shards_job, { ContainerOverrides = local.date_override })
        ResultPath = null
        Next       = "MergeOfDate"
      }
      MergeOfDate = {
        Type       = "Task"
        Resource   = "arn:${local.partition}:states:::batch:submitJob.sync"
        Parameters = merge(local.merge_job, { ContainerOverrides = local.date_override })
        End        = true
      }
    }
  })

  tags = local.tags

  #checkov:skip=CKV_AWS_284:X-Ray adds nothing to two Batch submissions; each job's outcome is in the execution history and the miner's JSON log
  #checkov:skip=CKV_AWS_285:execution logging needs logs:*LogDelivery on "*"; the execution history (kept 90 days) already records each job's status
}
