locals {
  azp_url = coalesce(var.ado_org_url, "https://dev.azure.com/${var.ado_org_name}")
  name    = "adoscale"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:the example's throwaway VPC; bring your own VPC with flow logs in production
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags                 = { Name = "adoscale-example" }
}

resource "aws_subnet" "private" {
  vpc_id     = aws_vpc.this.id
  cidr_block = cidrsubnet(var.vpc_cidr, 8, 1)
  tags       = { Name = "adoscale-example-private" }
}

resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id # no rules: the default group allows nothing
}

module "container_pool" {
  source         = "../../modules/container-pool"
  name           = local.name
  vpc_id         = aws_vpc.this.id
  azp_url        = local.azp_url
  pat_secret_arn = module.control_plane.pat_secret_arn
  kms_key_arn    = module.control_plane.kms_key_arn
}

module "control_plane" {
  source                   = "../../modules/control-plane"
  name                     = local.name
  lambda_zip_path          = var.lambda_zip_path
  azp_url                  = local.azp_url
  ado_pat                  = var.ado_pat
  metrics_namespace        = var.agent_cw_namespace
  metric_name              = var.agent_cw_metric
  function_timeout_seconds = var.function_timeout_seconds
  cluster_arn              = "arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:cluster/${local.name}"
  task_definition_family   = "${local.name}-agent"
  pass_role_arns = [
    "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${local.name}-agent-task",
    "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${local.name}-agent-execution",
  ]
  config_json = jsonencode({
    organization_url = local.azp_url
    pools = [{
      name = var.pool_name
      ecs = {
        cluster         = local.name
        task_definition = "${local.name}-agent"
        subnets         = [aws_subnet.private.id]
        security_groups = []
      }
    }]
  })
}

module "vm_environment" {
  count           = var.enable_vm_environment ? 1 : 0
  source          = "../../modules/vm-environment"
  name            = "${local.name}-vms"
  lambda_zip_path = var.lambda_zip_path
  azp_url         = local.azp_url
  pat_secret_arn  = module.control_plane.pat_secret_arn
  kms_key_arn     = module.control_plane.kms_key_arn
  alert_topic_arn = module.control_plane.alert_topic_arn
  image_id        = var.vm_image_id
  subnet_ids      = [aws_subnet.private.id]
  project         = "Fabrikam"
  sweep_environments = [
    { project = "Fabrikam", name = "prod-vms", grace_seconds = 900 },
  ]
}

data "aws_caller_identity" "current" {}
