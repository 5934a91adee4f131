# The tester as a Lambda function (custom runtime provided.al2023, the binary named
# `bootstrap`), in the VPC so it reaches the ALB's test listener. CodeDeploy calls it as the
# AfterAllowTestTraffic hook (see deploy/appspec.yaml); ECS native blue/green can call it as a
# POST_TEST_TRAFFIC_SHIFT lifecycle hook (ecs_native_hook = true).

locals {
  deployment_group_arn = var.codedeploy_app_name == null ? null : "arn:${local.partition}:codedeploy:${local.region}:${local.account}:deploymentgroup:${var.codedeploy_app_name}/${var.codedeploy_deployment_group_name}"

  tester_environment = merge(
    {
      # The original release hook's variables, read by greenlight-tester under Lambda.
      ENDPOINT               = var.green_endpoint
      BUCKET                 = var.release_bucket
      FILEPATH               = var.list_key
      GREENLIGHT_CONCURRENCY = tostring(var.tester_concurrency)
      GREENLIGHT_TIMEOUT     = tostring(var.tester_request_timeout)
      GREENLIGHT_LOG_FORMAT  = "json"
    },
    var.acceptance_threshold == null ? {} : { ACCEPTANCE_THRESHOLD = tostring(var.acceptance_threshold) },
    var.blue_endpoint == null ? {} : { GREENLIGHT_BASELINE = var.blue_endpoint },
    var.tester_extra_environment,
  )
}

resource "aws_cloudwatch_log_group" "tester" {
  name              = "/aws/lambda/${var.tester_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_kms_key_arn
  tags              = local.tags
  #checkov:skip=CKV_AWS_338:operational logs; retention is a variable (default 90 days)
  #checkov:skip=CKV_AWS_158:KMS is optional (cloudwatch_kms_key_arn); CloudWatch encrypts log data by default
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "tester" {
  statement {
    sid       = "WriteFunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.tester.arn}:log-stream:*"]
  }

  statement {
    sid       = "ReadList"
    actions   = ["s3:GetObject"]
    resources = [local.list_object_arn]
  }

  dynamic "statement" {
    for_each = local.deployment_group_arn == null ? [] : [1]
    content {
      sid       = "ReportHookVerdict"
      actions   = ["codedeploy:PutLifecycleEventHookExecutionStatus"]
      resources = [local.deployment_group_arn]
    }
  }

  dynamic "statement" {
    for_each = length(var.log_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptList"
      actions   = ["kms:Decrypt"]
      resources = var.log_kms_key_arns
    }
  }

  # The function's network interfaces in its own subnets and security groups.
  statement {
    sid     = "CreateVpcInterfaces"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"],
      [for s in var.tester_subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/${s}"],
      [for g in var.tester_security_group_ids : "arn:${local.partition}:ec2:${local.region}:${local.account}:security-group/${g}"],
    )
  }

  statement {
    sid       = "ManageVpcInterfaces"
    actions   = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"]
  }

  statement {
    # AWS-REQUIRED-STAR: ec2:Describe* actions have no resource type; IAM accepts only "*".
    sid       = "DescribeVpcInterfaces"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "tester" {
  name               = "${var.name}-tester"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "tester" {
  name   = "greenlight-tester"
  role   = aws_iam_role.tester.id
  policy = data.aws_iam_policy_document.tester.json
}

resource "aws_lambda_function" "tester" {
  function_name                  = var.tester_function_name
  description                    = "greenlight-tester: replays the acceptance list against green and gates the release"
  role                           = aws_iam_role.tester.arn
  filename                       = var.tester_zip_path
  source_code_hash               = filebase64sha256(var.tester_zip_path)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [lower(var.cpu_architecture) == "arm64" ? "arm64" : "x86_64"]
  timeout                        = var.tester_timeout
  memory_size                    = var.tester_memory
  reserved_concurrent_executions = var.tester_reserved_concurrency

  environment {
    variables = local.tester_environment
  }

  vpc_config {
    subnet_ids         = var.tester_subnet_ids
    security_group_ids = var.tester_security_group_ids
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.tester.name
  }

  tags = local.tags

  #checkov:skip=CKV_AWS_116:invoked by CodeDeploy/ECS, which wait for the verdict; a lost invocation fails the hook by timeout (fail closed), so a DLQ would hold nothing to act on
  #checkov:skip=CKV_AWS_173:the environment holds listener URLs, a bucket and a key, no secrets; Lambda encrypts it at rest with its own key
  #checkov:skip=CKV_AWS_272:code signing needs an AWS Signer profile the operator owns; the zip comes from the operator's own build
  #checkov:skip=CKV_AWS_50:X-Ray would need xray:PutTraceSegments on "*"; the verdict and timings are in the JSON log line and the hook status
}

# CodeDeploy's service role may invoke the hook (needed unless it has AWSCodeDeployRoleForECS
# and the function name starts with CodeDeployHook_).
data "aws_iam_policy_document" "codedeploy_invoke" {
  statement {
    sid       = "InvokeReleaseHook"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.tester.arn]
  }
}

resource "aws_iam_role_policy" "codedeploy_invoke" {
  count  = var.codedeploy_service_role_name == null ? 0 : 1
  name   = "greenlight-invoke-release-hook"
  role   = var.codedeploy_service_role_name
  policy = data.aws_iam_policy_document.codedeploy_invoke.json
}

# ECS native blue/green: the role ECS assumes to invoke the hook (hook_details on the service's
# lifecycle_hook, see outputs.ecs_lifecycle_hook).
data "aws_iam_policy_document" "assume_ecs" {
  statement {
    sid     = "EcsAssume"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "ecs_hook" {
  count              = var.ecs_native_hook ? 1 : 0
  name               = "${var.name}-ecs-hook"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "ecs_hook" {
  count  = var.ecs_native_hook ? 1 : 0
  name   = "greenlight-invoke-release-hook"
  role   = aws_iam_role.ecs_hook[0].id
  policy = data.aws_iam_policy_document.codedeploy_invoke.json
}
