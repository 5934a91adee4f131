# ---- naming ----------------------------------------------------------------------------------
variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "greenlight"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---- the ALB access logs (existing bucket) -----------------------------------------------------
variable "log_bucket" {
  description = "The existing S3 bucket the ALB writes its access logs to."
  type        = string
}

variable "log_prefix" {
  description = "The prefix set in the ALB's access-log attribute (empty when none): the folder holding AWSLogs/."
  type        = string
  default     = ""
}

variable "log_account_id" {
  description = "Account id in the log keys (AWSLogs/<account>/...). Default: this account."
  type        = string
  default     = null
}

variable "log_region" {
  description = "Region of the load balancer (elasticloadbalancing/<region>/ in the keys). Default: the provider's."
  type        = string
  default     = null
}

variable "load_balancer_names" {
  description = "Mine only these load balancers (the name in app/<name>/<id>). Empty: every ALB logging to the prefix."
  type        = list(string)
  default     = []
}

variable "log_kms_key_arns" {
  description = "KMS keys encrypting the log bucket (SSE-KMS) or the release bucket; empty for SSE-S3."
  type        = list(string)
  default     = []
}

# ---- state, list and report (existing bucket) --------------------------------------------------
variable "release_bucket" {
  description = "The existing S3 bucket holding the miner's state, the list and the report."
  type        = string
}

variable "state_prefix" {
  description = "Prefix of the miner's day tallies (tally-YYYY-MM-DD.glt) in the release bucket."
  type        = string
  default     = "greenlight/state"
}

variable "list_key" {
  description = "Key of acceptance_url_list.csv in the release bucket (written by the miner, read by the tester)."
  type        = string
  default     = "greenlight/acceptance_url_list.csv"
}

variable "report_key" {
  description = "Key of the miner's JSON run report in the release bucket."
  type        = string
  default     = "greenlight/reports/latest.json"
}

# ---- the miner ---------------------------------------------------------------------------------
variable "image" {
  description = "The greenlight image (built from the repository's Dockerfile), e.g. <account>.dkr.ecr.<region>.amazonaws.com/greenlight:0.1.0."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding the image (the execution role may pull only from it). Null when the image is public."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture of the image and of the tester's binary: ARM64 or X86_64."
  type        = string
  default     = "ARM64"
  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "miner_cpu" {
  description = "Fargate CPU units of the miner task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "miner_memory" {
  description = "Fargate memory (MiB) of the miner task. About 1 GiB per million distinct URLs a day."
  type        = number
  default     = 2048
}

variable "max_urls" {
  description = "Largest number of URLs in the list (see docs/operations.md: sizing the list)."
  type        = number
  default     = 1000
}

variable "window_days" {
  description = "Days of history the list is built from."
  type        = number
  default     = 30
}

variable "miner_extra_environment" {
  description = "More GREENLIGHT_* settings of the miner (e.g. GREENLIGHT_TIME_BUDGET, GREENLIGHT_HOST)."
  type        = map(string)
  default     = {}
}

variable "schedule_expression" {
  description = "When the nightly run starts (EventBridge Scheduler). Logs of day D are complete by D+1 ~01:00 UTC."
  type        = string
  default     = "cron(30 2 * * ? *)"
}

variable "schedule_timezone" {
  description = "Time zone of schedule_expression."
  type        = string
  default     = "UTC"
}

variable "ecs_cluster_arn" {
  description = "ARN of the existing ECS cluster the nightly task runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the miner task (and the Batch compute environment); they need a route to S3 (gateway endpoint or NAT)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the miner task: egress to S3 only (443)."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 90
}

variable "cloudwatch_kms_key_arn" {
  description = "KMS key encrypting the CloudWatch log groups (null: CloudWatch's own encryption)."
  type        = string
  default     = null
}

# ---- sharded mining (AWS Batch array job on Fargate) --------------------------------------------
variable "batch_shards" {
  description = "0: the nightly run is one ECS task. N >= 2: an AWS Batch array job of N shards (greenlight-miner --shard I/N) then `greenlight-miner merge`, run by a Step Functions state machine."
  type        = number
  default     = 0
  validation {
    condition     = var.batch_shards == 0 || (var.batch_shards >= 2 && var.batch_shards <= 10000)
    error_message = "batch_shards must be 0, or between 2 and 10000 (the array size limit)."
  }
}

variable "batch_max_vcpus" {
  description = "Largest number of vCPUs the Batch compute environment runs at once."
  type        = number
  default     = 16
}

# ---- the tester (Lambda release hook) ----------------------------------------------------------
variable "tester_zip_path" {
  description = "Path of the Lambda zip holding the tester binary named `bootstrap` (see docs/operations.md)."
  type        = string
}

variable "tester_function_name" {
  description = "Name of the tester function. The CodeDeployHook_ prefix lets the AWSCodeDeployRoleForECS managed policy invoke it."
  type        = string
  default     = "CodeDeployHook_greenlight-tester"
}

variable "green_endpoint" {
  description = "The green (test) listener the tester replays the list against, http://host:port (ENDPOINT)."
  type        = string
}

variable "blue_endpoint" {
  description = "The live (blue) listener to compare with (GREENLIGHT_BASELINE); null for expected-status mode."
  type        = string
  default     = null
}

variable "acceptance_threshold" {
  description = "Percent of counted URLs that must pass (ACCEPTANCE_THRESHOLD); null for the tester's default (99 with a baseline, 95 without)."
  type        = number
  default     = null
}

variable "tester_concurrency" {
  description = "URLs in flight at once per listener (GREENLIGHT_CONCURRENCY)."
  type        = number
  default     = 16
}

variable "tester_request_timeout" {
  description = "Seconds for one request, body included (GREENLIGHT_TIMEOUT)."
  type        = number
  default     = 10
}

variable "tester_timeout" {
  description = "Lambda timeout in seconds (at most 900). The replay stops 20 s before it so the verdict is always reported."
  type        = number
  default     = 600
  validation {
    condition     = var.tester_timeout >= 60 && var.tester_timeout <= 900
    error_message = "tester_timeout must be between 60 and 900 seconds."
  }
}

variable "tester_memory" {
  description = "Lambda memory (MiB); CPU grows with it."
  type        = number
  default     = 512
}

variable "tester_subnet_ids" {
  description = "Subnets of the tester Lambda: it must reach the ALB's test listener and S3."
  type        = list(string)
}

variable "tester_security_group_ids" {
  description = "Security groups of the tester Lambda: egress to the test and live listeners and to S3."
  type        = list(string)
}

variable "tester_reserved_concurrency" {
  description = "Concurrent tester invocations allowed (one per deployment in flight)."
  type        = number
  default     = 2
}

variable "tester_extra_environment" {
  description = "More GREENLIGHT_* settings of the tester (e.g. GREENLIGHT_RPS, GREENLIGHT_USER_AGENT)."
  type        = map(string)
  default     = {}
}

# ---- the release (existing CodeDeploy deployment group, or ECS native blue/green) ----------------
variable "codedeploy_app_name" {
  description = "The CodeDeploy application of the ECS service (null when releases use ECS native blue/green)."
  type        = string
  default     = null
}

variable "codedeploy_deployment_group_name" {
  description = "The CodeDeploy deployment group whose AfterAllowTestTraffic hook is the tester."
  type        = string
  default     = null
}

variable "codedeploy_service_role_name" {
  description = "Name of the CodeDeploy service role, to let it invoke the tester (not needed when it has AWSCodeDeployRoleForECS and the function name starts with CodeDeployHook_)."
  type        = string
  default     = null
}

variable "ecs_native_hook" {
  description = "Create the role ECS native blue/green assumes to invoke the tester as a lifecycle hook (POST_TEST_TRAFFIC_SHIFT)."
  type        = bool
  default     = false
}

# ---- alarms -----------------------------------------------------------------------------------
variable "alarm_topic_arn" {
  description = "SNS topic for the alarms (a failed or missing nightly run, a task that died, a failed gate); null: metrics only. Its policy must let cloudwatch.amazonaws.com and events.amazonaws.com publish."
  type        = string
  default     = null
}
