locals {
  image        = coalesce(var.image, "${aws_ecr_repository.agent.repository_url}:${var.image_tag}")
  secrets_keys = distinct(compact(concat([var.secrets_kms_key_arn == null ? var.kms_key_arn : var.secrets_kms_key_arn])))
  environment = [for k, v in merge(var.environment, {
    AZP_URL               = var.azp_url
    AZP_AGENT_NAME_PREFIX = var.agent_name_prefix
  }) : { name = k, value = v }]
  secrets = [for k, v in merge(var.secrets, { AZP_TOKEN = var.pat_secret_arn }) : { name = k, valueFrom = v }]
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_ecr_repository" "agent" {
  name                 = "${var.name}-agent"
  image_tag_mutability = "IMMUTABLE"
  # `terraform destroy` once images are pushed: ECR refuses to delete a repository that holds images.
  force_delete = true
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }
  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "agent" {
  repository = aws_ecr_repository.agent.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the 10 most recent images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }
        action       = { type = "expire" }
      }
    ]
  })
}

resource "aws_cloudwatch_log_group" "agents" {
  name              = "/adoscale/${var.name}/agents"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-agent-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.agent.arn]
  }
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action does not support resource-level permissions
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.agents.arn}:*"]
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue", "ssm:GetParameters"]
    resources = distinct(concat([var.pat_secret_arn], values(var.secrets)))
  }
  # ECS reads the injected secrets as this role: it must decrypt with their customer key, or every task
  # stops with ResourceInitializationError.
  dynamic "statement" {
    for_each = length(local.secrets_keys) > 0 ? [1] : []
    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = local.secrets_keys
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "agent-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-agent-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_security_group" "agents" {
  #checkov:skip=CKV2_AWS_5:attached at RunTask time by adoscale (the pool's ecs.security_groups), not in Terraform
  name        = "${var.name}-agents"
  description = "adoscale agents: egress only (they connect out to Azure DevOps)"
  vpc_id      = var.vpc_id
  dynamic "egress" {
    for_each = toset(var.egress_ports)
    content {
      description = egress.value == 443 ? "HTTPS to Azure DevOps, registries and AWS APIs" : "TCP ${egress.value} for the jobs"
      from_port   = egress.value
      to_port     = egress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"] # Azure DevOps has no fixed address range
    }
  }
  tags = var.tags
}

resource "aws_ecs_task_definition" "agent" {
  family                   = "${var.name}-agent"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
  container_definitions = jsonencode([
    {
      name      = "agent"
      image     = local.image
      essential = true
      memory    = var.memory
      # Fargate Spot warns 120 s before it reclaims a task; the default 30 s between SIGTERM and SIGKILL
      # would cut a running job short, 120 s (the Fargate maximum) lets it use the whole warning.
      stopTimeout = 120
      environment = local.environment
      secrets     = local.secrets
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.agents.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "agent"
        }
      }
    }
  ])
  tags = var.tags
}

data "aws_region" "current" {}
