output "miner_task_definition_arn" {
  description = "The miner's task definition (for `aws ecs run-task`)."
  value       = aws_ecs_task_definition.miner.arn
}

output "miner_task_role_arn" {
  description = "The miner's task role (least privilege on the log tree, state prefix, list and report keys)."
  value       = aws_iam_role.miner_task.arn
}

output "miner_log_group" {
  description = "CloudWatch log group of the miner (JSON lines; the last one of a run is `greenlight-miner finished`)."
  value       = aws_cloudwatch_log_group.miner.name
}

output "miner_environment" {
  description = "The miner's settings (GREENLIGHT_* variables) as set in the task definition."
  value       = local.miner_environment
}

output "run_task_network_configuration" {
  description = "The --network-configuration value for a manual `aws ecs run-task`."
  value       = "awsvpcConfiguration={subnets=[${join(",", var.subnet_ids)}],securityGroups=[${join(",", var.security_group_ids)}],assignPublicIp=DISABLED}"
}

output "schedule_name" {
  description = "The EventBridge Scheduler schedule of the nightly run."
  value       = aws_scheduler_schedule.nightly.name
}

output "tester_function_arn" {
  description = "The tester Lambda: the AfterAllowTestTraffic hook in appspec.yaml."
  value       = aws_lambda_function.tester.arn
}

output "tester_function_name" {
  description = "The tester Lambda's name."
  value       = aws_lambda_function.tester.function_name
}

output "tester_log_group" {
  description = "CloudWatch log group of the tester."
  value       = aws_cloudwatch_log_group.tester.name
}

output "ecs_lifecycle_hook" {
  description = "For ECS native blue/green: the lifecycle_hook block of the service's deployment_configuration (null unless ecs_native_hook)."
  value = var.ecs_native_hook ? {
    hook_target_arn  = aws_lambda_function.tester.arn
    role_arn         = aws_iam_role.ecs_hook[0].arn
    lifecycle_stages = ["POST_TEST_TRAFFIC_SHIFT"]
  } : null
}

output "sharded_state_machine_arn" {
  description = "The Step Functions state machine of sharded mining (null unless batch_shards > 0)."
  value       = var.batch_shards > 0 ? aws_sfn_state_machine.sharded[0].arn : null
}
