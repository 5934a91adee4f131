# greenlight deployment module: the nightly miner as a scheduled ECS Fargate task (or an AWS
# Batch array job for sharded mining), the tester as a Lambda release hook, and least-privilege
# IAM. See docs/operations.md for a walk-through from an empty account.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # The ALB log tree the miner reads: [prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/.
  log_prefix      = var.log_prefix == "" ? "" : "${trimsuffix(var.log_prefix, "/")}/"
  log_account     = coalesce(var.log_account_id, local.account)
  log_region      = coalesce(var.log_region, local.region)
  aws_logs_prefix = "${local.log_prefix}AWSLogs/"
  elb_logs_prefix = "${local.aws_logs_prefix}${local.log_account}/elasticloadbalancing/${local.log_region}/"
  log_bucket_arn  = "arn:${local.partition}:s3:::${var.log_bucket}"

  # State, list and report live in the release bucket.
  state_prefix       = trim(var.state_prefix, "/")
  release_bucket_arn = "arn:${local.partition}:s3:::${var.release_bucket}"
  list_object_arn    = "${local.release_bucket_arn}/${var.list_key}"
  report_object_arn  = "${local.release_bucket_arn}/${var.report_key}"
  state_objects_arn  = "${local.release_bucket_arn}/${local.state_prefix}/*"

  # Settings of the miner, as environment variables (a manual rerun overrides only the
  # command, e.g. ["--from", "2026-03-01", "--to", "2026-03-07"]).
  miner_environment = merge({
    GREENLIGHT_LOGS        = "s3://${var.log_bucket}/${local.log_prefix}AWSLogs"
    GREENLIGHT_ACCOUNT     = local.log_account
    GREENLIGHT_REGION      = local.log_region
    GREENLIGHT_STATE       = "s3://${var.release_bucket}/${local.state_prefix}"
    GREENLIGHT_OUT         = "s3://${var.release_bucket}/${var.list_key}"
    GREENLIGHT_REPORT      = "s3://${var.release_bucket}/${var.report_key}"
    GREENLIGHT_MAX_URLS    = tostring(var.max_urls)
    GREENLIGHT_WINDOW_DAYS = tostring(var.window_days)
    # Size the list to the hook: the miner's estimate at the tester's concurrency must fit the
    # Lambda's time (less the 20 s kept for reporting), twice over with a baseline (blue is
    # asked twice), with 3x slack. docs/operations.md, "Sizing the list".
    GREENLIGHT_CONCURRENCY    = tostring(var.tester_concurrency)
    GREENLIGHT_TIME_BUDGET    = tostring(floor((var.tester_timeout - 20) / (var.blue_endpoint == null ? 1 : 2) / 3))
    GREENLIGHT_LOG_FORMAT     = "json"
    GREENLIGHT_QUIET          = "1"
    AWS_EC2_METADATA_DISABLED = "true"
    },
    length(var.load_balancer_names) > 0 ? { GREENLIGHT_LOAD_BALANCER = join(",", var.load_balancer_names) } : {},
  var.miner_extra_environment)

  tags = merge({ "app" = "greenlight" }, var.tags)
}
