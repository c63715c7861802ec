locals {
  azp_url = coalesce(var.ado_org_url, "https://dev.azure.com/${var.ado_org_name}")
  name    = var.name_prefix # every name below derives from it: two deployments can share an account
  # Where `adoscale package` writes, run from the repository's root.
  lambda_zip_path = coalesce(var.lambda_zip_path, "${path.root}/../../../../dist/adoscale-lambda.zip")
  # Bring your own VPC (vpc_id and subnet_ids), or the network module builds one in network_mode.
  own_vpc          = var.vpc_id != null
  vpc_id           = local.own_vpc ? var.vpc_id : module.network[0].vpc_id
  subnet_ids       = local.own_vpc ? var.subnet_ids : module.network[0].subnet_ids
  assign_public_ip = var.network_mode == "public"
}

module "network" {
  count              = local.own_vpc ? 0 : 1
  source             = "../../modules/network"
  name               = local.name
  mode               = var.network_mode
  cidr_block         = var.vpc_cidr
  transit_gateway_id = var.transit_gateway_id
  kms_key_arn        = module.control_plane.kms_key_arn
}

module "container_pool" {
  source           = "../../modules/container-pool"
  name             = local.name
  vpc_id           = local.vpc_id
  azp_url          = local.azp_url
  pat_secret_arn   = module.control_plane.pat_secret_arn
  kms_key_arn      = module.control_plane.kms_key_arn
  image_tag        = var.agent_image_tag
  cpu_architecture = var.cpu_architecture
  egress_ports     = var.egress_ports
}

module "control_plane" {
  source                      = "../../modules/control-plane"
  name                        = local.name
  lambda_zip_path             = local.lambda_zip_path
  azp_url                     = local.azp_url
  ado_pat                     = var.ado_pat
  metrics_namespace           = var.agent_cw_namespace
  metric_name                 = var.agent_cw_metric
  metrics                     = var.metrics
  create_dashboard            = var.create_dashboard
  idle_observe_minutes        = var.idle_observe_minutes
  alert_reminder_hours        = var.alert_reminder_hours
  function_timeout_seconds    = var.function_timeout_seconds
  enable_hooks                = var.enable_hooks
  hook_reserved_concurrency   = var.hook_reserved_concurrency
  secret_recovery_window_days = var.secret_recovery_window_days
  cluster_arn                 = "arn:aws:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:cluster/${local.name}"
  task_definition_family      = "${local.name}-agent"
  alarm_pools                 = { (var.pool_name) = 10 } # the pool below, at the default max_agents
  pass_role_arns = concat([
    "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${local.name}-agent-task",
    "arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/${local.name}-agent-execution",
  ], module.docker_pool[*].instance_role_arn)
  ec2_launch_template_arns = module.docker_pool[*].launch_template_arn
  # Written once; `adoscale config push` owns it afterwards. The security group is always named: without
  # one, ECS attaches the VPC's default group.
  config_json = jsonencode({
    organization_url = local.azp_url
    lease_table      = "${local.name}-leases"
    pools = concat([{
      name = var.pool_name
      ecs = {
        cluster          = local.name
        task_definition  = "${local.name}-agent"
        subnets          = local.subnet_ids
        security_groups  = [module.container_pool.security_group_id]
        assign_public_ip = local.assign_public_ip
      }
      }], [for pool in module.docker_pool : {
      name         = var.docker_pool_name
      capabilities = ["docker"]
      ec2 = {
        launch_template = pool.launch_template_id
        instance_types  = var.docker_instance_types
        subnets         = local.subnet_ids
        spot            = var.docker_spot
      }
    }])
  })
}

# The optional Docker pool: one EC2 instance per job (docs/ec2.md), beside the Fargate pool.
module "docker_pool" {
  count               = var.enable_docker_pool ? 1 : 0
  source              = "../../modules/ec2-pool"
  name                = "${local.name}-docker"
  pool_name           = var.docker_pool_name
  azp_url             = local.azp_url
  pat_secret_arn      = module.control_plane.pat_secret_arn
  kms_key_arn         = module.control_plane.kms_key_arn
  image_id            = var.docker_image_id
  vpc_id              = local.vpc_id
  associate_public_ip = local.assign_public_ip
  egress_ports        = var.egress_ports
}

module "vm_environment" {
  count               = var.enable_vm_environment ? 1 : 0
  source              = "../../modules/vm-environment"
  name                = "${local.name}-vms"
  lambda_zip_path     = local.lambda_zip_path
  azp_url             = local.azp_url
  pat_secret_arn      = module.control_plane.pat_secret_arn
  kms_key_arn         = module.control_plane.kms_key_arn
  alert_topic_arn     = module.control_plane.alert_topic_arn
  image_id            = var.vm_image_id
  vpc_id              = local.vpc_id
  subnet_ids          = local.subnet_ids
  associate_public_ip = local.assign_public_ip
  project             = var.vm_project
  environment_name    = var.vm_environment
  sweep_environments = [
    { project = var.vm_project, name = var.vm_environment, grace_seconds = 900 },
  ]
}

data "aws_caller_identity" "current" {}

# Inputs that only make sense together, refused at plan time with a message rather than at RunTask.
resource "terraform_data" "inputs" {
  lifecycle {
    precondition {
      condition     = (var.vpc_id == null) == (length(var.subnet_ids) == 0)
      error_message = "vpc_id and subnet_ids go together: give both to bring your own VPC, or neither."
    }
    precondition {
      condition     = !var.enable_vm_environment || (var.vm_project != null && var.vm_environment != null)
      error_message = "enable_vm_environment needs vm_project and vm_environment (the Azure DevOps project and Environment)."
    }
    precondition {
      condition     = !var.enable_docker_pool || var.docker_image_id != null
      error_message = "enable_docker_pool needs docker_image_id: the baked agent image (docs/ec2.md)."
    }
    precondition {
      condition     = var.network_mode != "endpoints" || var.transit_gateway_id != null || var.vpc_id != null
      error_message = "network_mode = endpoints needs transit_gateway_id: the agents reach dev.azure.com through it."
    }
  }
}
