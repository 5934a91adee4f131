# A complete deployment next to an existing ALB, ECS service and CodeDeploy deployment group.
# Copy terraform.tfvars.example to terraform.tfvars, fill it in, then `terraform init && terraform apply`.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type = string
}
variable "log_bucket" {
  type = string
}
variable "log_prefix" {
  type    = string
  default = ""
}
variable "load_balancer_names" {
  type = list(string)
}
variable "release_bucket" {
  type = string
}
variable "image" {
  type = string
}
variable "ecr_repository_arn" {
  type    = string
  default = null
}
variable "cpu_architecture" {
  type    = string
  default = "ARM64"
}
variable "ecs_cluster_arn" {
  type = string
}
variable "subnet_ids" {
  type = list(string)
}
variable "miner_security_group_ids" {
  type = list(string)
}
variable "tester_security_group_ids" {
  type = list(string)
}
variable "tester_zip_path" {
  type = string
}
variable "green_endpoint" {
  type = string
}
variable "blue_endpoint" {
  type    = string
  default = null
}
variable "codedeploy_app_name" {
  type = string
}
variable "codedeploy_deployment_group_name" {
  type = string
}
variable "batch_shards" {
  type    = number
  default = 0
}

module "greenlight" {
  source = "../.."

  log_bucket          = var.log_bucket
  log_prefix          = var.log_prefix
  load_balancer_names = var.load_balancer_names
  release_bucket      = var.release_bucket

  image              = var.image
  ecr_repository_arn = var.ecr_repository_arn
  cpu_architecture   = var.cpu_architecture
  ecs_cluster_arn    = var.ecs_cluster_arn
  subnet_ids         = var.subnet_ids
  security_group_ids = var.miner_security_group_ids
  batch_shards       = var.batch_shards

  tester_zip_path           = var.tester_zip_path
  green_endpoint            = var.green_endpoint
  blue_endpoint             = var.blue_endpoint
  tester_subnet_ids         = var.subnet_ids
  tester_security_group_ids = var.tester_security_group_ids

  codedeploy_app_name              = var.codedeploy_app_name
  codedeploy_deployment_group_name = var.codedeploy_deployment_group_name
}

output "tester_function_arn" {
  value = module.greenlight.tester_function_arn
}
output "miner_task_definition_arn" {
  value = module.greenlight.miner_task_definition_arn
}
output "run_task_network_configuration" {
  value = module.greenlight.run_task_network_configuration
}
output "miner_log_group" {
  value = module.greenlight.miner_log_group
}
output "sharded_state_machine_arn" {
  value = module.greenlight.sharded_state_machine_arn
}
output "schedule_name" {
  value = module.greenlight.schedule_name
}
