data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# -- what the instance may do: read the PAT, nothing else --------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "agent" {
  name               = "${var.name}-agent"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# The boot script reads the PAT as root; the job's user is refused the metadata service, so it has no
# credentials of this role (docs/ec2.md, "The PAT").
resource "aws_iam_role_policy" "agent" {
  name = "read-pat"
  role = aws_iam_role.agent.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = "secretsmanager:GetSecretValue", Resource = var.pat_secret_arn },
      {
        Effect    = "Allow", Action = "kms:Decrypt", Resource = var.kms_key_arn,
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.name}.amazonaws.com" } }
      },
    ]
  })
}

resource "aws_iam_instance_profile" "agent" {
  name = "${var.name}-agent"
  role = aws_iam_role.agent.name
  tags = var.tags
}

# -- network: egress only ------------------------------------------------------------------------------------

resource "aws_security_group" "agent" {
  #checkov:skip=CKV2_AWS_5:attached through the launch template's network interface
  name        = "${var.name}-agent"
  description = "adoscale EC2 agents: egress only (the agent connects out to Azure DevOps)"
  vpc_id      = var.vpc_id
  dynamic "egress" {
    for_each = toset(var.egress_ports)
    content {
      description = "TCP ${egress.value} out (443: Azure DevOps, AWS APIs, registries)"
      from_port   = egress.value
      to_port     = egress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"] # Azure DevOps has no fixed address range
    }
  }
  tags = var.tags
}

# -- the launch template the controller's instant fleets launch from ------------------------------------------

locals {
  # The boot scripts are this module's own files (the module needs nothing outside it); they run the
  # image's agent entrypoint, agent/entrypoint.sh, baked in at /opt/adoscale/entrypoint.sh.
  boot_vars = {
    ado_url            = var.azp_url
    pool               = var.pool_name
    pat_secret_arn     = var.pat_secret_arn
    pat_parameter_name = ""
    agent_name_prefix  = var.agent_name_prefix
    agent_dir          = ""
    entrypoint         = ""
    job_user           = ""
    register_user      = ""
    stop_grace_seconds = ""
    imds_endpoint      = ""
    poweroff_command   = ""
    spot_poll_seconds  = ""
  }
  user_data = var.os == "linux" ? templatefile("${path.module}/boot.sh", local.boot_vars) : "<powershell>\n${templatefile("${path.module}/boot.ps1", local.boot_vars)}\n</powershell>"
}

resource "aws_launch_template" "agent" {
  name_prefix   = "${var.name}-"
  image_id      = var.image_id
  instance_type = var.instance_type
  # The agent powers off after its one job: that is the instance's end.
  instance_initiated_shutdown_behavior = "terminate"
  iam_instance_profile {
    arn = aws_iam_instance_profile.agent.arn
  }
  network_interfaces {
    associate_public_ip_address = var.associate_public_ip
    security_groups             = [aws_security_group.agent.id]
    delete_on_termination       = true
  }
  block_device_mappings {
    device_name = var.root_device_name
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
  # IMDSv2 only, and a hop limit of 1: a token's PUT answer dies at the first hop, so a container on the
  # instance (one more hop through the docker bridge) cannot fetch the role's credentials.
  metadata_options {
    http_tokens                 = "required"
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
  }
  monitoring {
    enabled = false # per-second billing of short-lived instances; detailed monitoring adds cost per instance
  }
  user_data = base64encode(local.user_data)
  tags      = var.tags
}
