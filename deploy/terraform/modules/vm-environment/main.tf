data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The functions this module deploys, each with its handler and the actions it calls (one list, also read
  # by the packager and the least-privilege tests).
  function_specs   = jsondecode(file("${path.module}/functions.json"))
  functions        = { for name, spec in local.function_specs : name => spec.handler }
  function_actions = { for name, spec in local.function_specs : name => spec.actions }
  action_resources = {
    "dynamodb:GetItem"                           = [aws_dynamodb_table.state.arn]
    "dynamodb:PutItem"                           = [aws_dynamodb_table.state.arn]
    "dynamodb:UpdateItem"                        = [aws_dynamodb_table.state.arn]
    "ec2:DescribeTags"                           = ["*"] # Describe* actions take no resource
    "ec2:DescribeInstances"                      = ["*"] # Describe* actions take no resource
    "autoscaling:CompleteLifecycleAction"        = [aws_autoscaling_group.vms.arn]
    "autoscaling:RecordLifecycleActionHeartbeat" = [aws_autoscaling_group.vms.arn]
    "secretsmanager:GetSecretValue"              = [var.pat_secret_arn]
    "sns:Publish"                                = var.alert_topic_arn == null ? ["arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name}-none"] : [var.alert_topic_arn]
  }
}

resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "instance_id"
  attribute {
    name = "instance_id"
    type = "S"
  }
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
  tags = var.tags
}

# -- the VMs --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "vm" {
  name               = "${var.name}-vm"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "vm" {
  name = "read-pat"
  role = aws_iam_role.vm.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "secretsmanager:GetSecretValue", Resource = var.pat_secret_arn },
      { Effect = "Allow", Action = "kms:Decrypt", Resource = var.kms_key_arn },
    ]
  })
}

resource "aws_iam_instance_profile" "vm" {
  name = "${var.name}-vm"
  role = aws_iam_role.vm.name
}

locals {
  # EC2 resolves the public parameter at each launch: always the current Amazon Linux 2023.
  image_id = coalesce(var.image_id, "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.cpu_architecture}")
}

resource "aws_security_group" "vm" {
  #checkov:skip=CKV2_AWS_5:attached through the launch template's network interface
  name        = "${var.name}-vm"
  description = "adoscale Environment VMs: egress only (the agent connects out to Azure DevOps)"
  vpc_id      = var.vpc_id
  dynamic "egress" {
    for_each = toset(var.egress_ports)
    content {
      description = "TCP ${egress.value} out (443: Azure DevOps and AWS APIs)"
      from_port   = egress.value
      to_port     = egress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"] # Azure DevOps has no fixed address range
    }
  }
  tags = var.tags
}

resource "aws_launch_template" "vm" {
  name_prefix   = "${var.name}-"
  image_id      = local.image_id
  instance_type = var.instance_type
  iam_instance_profile {
    arn = aws_iam_instance_profile.vm.arn
  }
  network_interfaces {
    associate_public_ip_address = var.associate_public_ip
    security_groups             = [aws_security_group.vm.id]
    delete_on_termination       = true
  }
  # IMDSv2 only, and a hop limit of 1: a token's PUT answer dies at the first hop, so a container on the VM
  # (one more hop through the docker bridge) cannot fetch the instance role's credentials.
  metadata_options {
    http_tokens                 = "required"
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }
  user_data = base64encode(templatefile("${path.module}/register-environment.sh", {
    ado_url            = var.azp_url
    project            = var.project
    environment        = var.environment_name
    vm_tags            = var.vm_tags
    pat_secret_arn     = var.pat_secret_arn
    pat_parameter_name = ""
    agent_version      = var.agent_version
    agent_arch         = var.cpu_architecture == "arm64" ? "arm64" : "x64"
    agent_download_url = ""
    agent_user         = var.agent_user
    agent_dir          = ""
    imds_endpoint      = ""
  }))
  tag_specifications {
    resource_type = "instance"
    tags = merge(var.tags, {
      "adoscale:project"     = var.project
      "adoscale:environment" = var.environment_name
      "adoscale:vm-tags"     = var.vm_tags
    })
  }
  tags = var.tags
}

resource "aws_autoscaling_group" "vms" {
  #checkov:skip=CKV_AWS_153:instances are tagged by the launch template's tag_specifications
  name                = "${var.name}-vms"
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = var.desired_capacity
  vpc_zone_identifier = var.subnet_ids
  launch_template {
    id      = aws_launch_template.vm.id
    version = "$Latest"
  }
  initial_lifecycle_hook {
    name                    = "${var.name}-launching"
    lifecycle_transition    = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result          = "CONTINUE"
    heartbeat_timeout       = var.heartbeat_timeout_seconds
    notification_target_arn = var.delivery == "sns" ? aws_sns_topic.lifecycle.arn : null
    role_arn                = var.delivery == "sns" ? aws_iam_role.hooks.arn : null
  }
  initial_lifecycle_hook {
    name                    = "${var.name}-terminating"
    lifecycle_transition    = "autoscaling:EC2_INSTANCE_TERMINATING"
    default_result          = "CONTINUE"
    heartbeat_timeout       = var.heartbeat_timeout_seconds
    notification_target_arn = var.delivery == "sns" ? aws_sns_topic.lifecycle.arn : null
    role_arn                = var.delivery == "sns" ? aws_iam_role.hooks.arn : null
  }
  # Auto Scaling publishes a test message to an SNS lifecycle hook's topic when it creates the hook, as
  # the hooks role: without the role's sns:Publish (and key) policy in place first, creation fails.
  depends_on = [aws_iam_role_policy.hooks]
}

# -- lifecycle events to the Lambda ----------------------------------------------------------------------

resource "aws_sns_topic" "lifecycle" {
  name              = "${var.name}-lifecycle"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "autoscaling_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["autoscaling.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "hooks" {
  name               = "${var.name}-hooks"
  assume_role_policy = data.aws_iam_policy_document.autoscaling_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "hooks" {
  name = "publish"
  role = aws_iam_role.hooks.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "sns:Publish", Resource = aws_sns_topic.lifecycle.arn },
      { Effect = "Allow", Action = ["kms:GenerateDataKey", "kms:Decrypt"], Resource = var.kms_key_arn },
    ]
  })
}

resource "aws_sns_topic_subscription" "lifecycle" {
  count     = var.delivery == "sns" ? 1 : 0
  topic_arn = aws_sns_topic.lifecycle.arn
  protocol  = "lambda"
  endpoint  = module.function["lifecycle"].arn
}

resource "aws_lambda_permission" "sns" {
  count         = var.delivery == "sns" ? 1 : 0
  statement_id  = "sns"
  action        = "lambda:InvokeFunction"
  function_name = module.function["lifecycle"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.lifecycle.arn
}

resource "aws_cloudwatch_event_rule" "lifecycle" {
  count       = var.delivery == "eventbridge" ? 1 : 0
  name        = "${var.name}-lifecycle"
  description = "Auto Scaling lifecycle actions of ${aws_autoscaling_group.vms.name}"
  event_pattern = jsonencode({
    source        = ["aws.autoscaling"]
    "detail-type" = ["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"]
    detail        = { AutoScalingGroupName = [aws_autoscaling_group.vms.name] }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "lifecycle" {
  count = var.delivery == "eventbridge" ? 1 : 0
  rule  = aws_cloudwatch_event_rule.lifecycle[0].name
  arn   = module.function["lifecycle"].arn
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

resource "aws_lambda_permission" "events" {
  count         = var.delivery == "eventbridge" ? 1 : 0
  statement_id  = "events"
  action        = "lambda:InvokeFunction"
  function_name = module.function["lifecycle"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.lifecycle[0].arn
}

# -- the Lambdas -----------------------------------------------------------------------------------------

# Events that failed every retry (ADO down past the retries) land here for inspection and replay.
resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-dead-letters"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
  tags                      = var.tags
}

module "function" {
  source        = "../lambda-function" # one module for every function (deploy/terraform/modules/lambda-function)
  for_each      = local.functions
  function_name = "${var.name}-${each.key}"
  handler       = each.value
  zip_path      = var.lambda_zip_path
  statements = [
    for action in local.function_actions[each.key] : { actions = [action], resources = local.action_resources[action] }
  ]
  kms_key_arn          = var.kms_key_arn
  tracing              = var.tracing
  reserved_concurrency = var.reserved_concurrency
  dead_letter_arn      = aws_sqs_queue.dead_letters.arn
  log_retention_days   = var.log_retention_days
  environment = {
    AZP_URL                         = var.azp_url
    AZP_TOKEN_SECRET_ARN            = var.pat_secret_arn
    ADOSCALE_STATE_TABLE            = aws_dynamodb_table.state.name
    ADOSCALE_ALERT_TOPIC_ARN        = var.alert_topic_arn == null ? "" : var.alert_topic_arn
    ADOSCALE_HOOK_HEARTBEAT_SECONDS = tostring(var.heartbeat_timeout_seconds)
    ADOSCALE_ENVIRONMENTS           = jsonencode(var.sweep_environments)
  }
  tags = var.tags
}

# SNS and EventBridge invoke the lifecycle function asynchronously: a function error (Azure DevOps down) is
# retried by Lambda, per this configuration, not by the SNS delivery policy or the target's retry_policy
# (those cover only failures to reach Lambda). adoscale.environments.lifecycle counts on exactly
# 1 + maximum_retry_attempts deliveries (HookTiming.attempts = 3): the last one alerts and releases the VM.
resource "aws_lambda_function_event_invoke_config" "lifecycle" {
  function_name                = module.function["lifecycle"].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name}-sweep"
  description         = "Remove VM resources whose instance is gone"
  schedule_expression = "rate(30 minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule = aws_cloudwatch_event_rule.sweep.name
  arn  = module.function["sweeper"].arn
}

resource "aws_lambda_permission" "sweep" {
  statement_id  = "events"
  action        = "lambda:InvokeFunction"
  function_name = module.function["sweeper"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}
