# Event-driven scale-out (docs/hooks.md): Azure DevOps service hooks reach the `hook` function through an
# API Gateway HTTP API, and a valid job-waiting hook runs that pool's pass at once (same pass, same lease as the
# workflow). Off by default; the schedule stays the backstop either way, since hooks are lossy.

# The shared secret ADO sends as the Basic-auth password. Terraform creates the container only: the value
# never passes through Terraform state (see docs/hooks.md for putting one in).
resource "aws_secretsmanager_secret" "hook" {
  #checkov:skip=CKV2_AWS_57:rotating it means re-installing the subscriptions (`adoscale hooks install`); rotate by hand
  count                   = var.enable_hooks ? 1 : 0
  name                    = "${var.name}/hook-secret"
  description             = "Shared secret of adoscale's Azure DevOps service hooks (hooks.secret_name)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

# The hook function reads its own secret, and only it: a statement of its own next to the function's
# least-privilege policy (the shared grants in functions.json are per action).
data "aws_iam_policy_document" "hook_secret" {
  count = var.enable_hooks ? 1 : 0
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.hook[0].arn]
  }
}

resource "aws_iam_role_policy" "hook_secret" {
  count  = var.enable_hooks ? 1 : 0
  name   = "hook-secret"
  role   = element(split("/", module.function["hook"].role_arn), length(split("/", module.function["hook"].role_arn)) - 1)
  policy = data.aws_iam_policy_document.hook_secret[0].json
}

# The endpoint is an API Gateway HTTP API rather than a function URL: function URLs created since October
# 2025 also need `lambda:InvokeFunction`, which the pinned provider (hashicorp/aws 5.x) cannot restrict to
# URL calls, whereas API Gateway's permission below is scoped to this API's one route with source_arn.
# Payload format 2.0 has the function URL's event shape (headers, rawPath, queryStringParameters, body).
resource "aws_apigatewayv2_api" "hook" {
  count         = var.enable_hooks ? 1 : 0
  name          = "${var.name}-hooks"
  description   = "Azure DevOps service hooks for ${var.name} (POST /hooks?pool=NAME)"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "hook" {
  count                  = var.enable_hooks ? 1 : 0
  api_id                 = aws_apigatewayv2_api.hook[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = module.function["hook"].arn
  payload_format_version = "2.0" # what adoscale.handlers.hook parses
  # The HTTP API maximum, shorter than the function's own timeout: a pass still running after 30 s is
  # answered 503 (the pass itself completes), which Azure DevOps treats as transient and re-sends.
  timeout_milliseconds = 30000
}

# Auth NONE: Azure DevOps cannot sign requests with SigV4 or fetch a JWT. The shared secret (compared in
# constant time) authenticates every delivery; anything else is refused before any Azure DevOps or AWS call.
resource "aws_apigatewayv2_route" "hook" {
  #checkov:skip=CKV_AWS_309:ADO service hooks cannot sign requests or send a JWT; the handler authenticates a shared secret
  count              = var.enable_hooks ? 1 : 0
  api_id             = aws_apigatewayv2_api.hook[0].id
  route_key          = "POST /hooks"
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.hook[0].id}"
}

resource "aws_cloudwatch_log_group" "hook_access" {
  count             = var.enable_hooks ? 1 : 0
  name              = "/aws/vendedlogs/apigateway/${var.name}-hooks"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "hook" {
  count       = var.enable_hooks ? 1 : 0
  api_id      = aws_apigatewayv2_api.hook[0].id
  name        = "$default" # no stage segment in the URL; auto_deploy publishes route changes at once
  auto_deploy = true
  # A flood is refused here (429) before it reaches the function; ADO sends one delivery per waiting job.
  default_route_settings {
    throttling_burst_limit = 20
    throttling_rate_limit  = 10
  }
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.hook_access[0].arn
    format = jsonencode({
      requestId = "$context.requestId", ip = "$context.identity.sourceIp", route = "$context.routeKey",
      status    = "$context.status", error = "$context.integrationErrorMessage", time = "$context.requestTime"
    })
  }
  tags = var.tags
}

# Only this API's POST /hooks route may invoke the function (not any API Gateway API in any account).
resource "aws_lambda_permission" "hook" {
  count         = var.enable_hooks ? 1 : 0
  statement_id  = "ApiGatewayHook"
  action        = "lambda:InvokeFunction"
  function_name = module.function["hook"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.hook[0].execution_arn}/*/POST/hooks"
}
