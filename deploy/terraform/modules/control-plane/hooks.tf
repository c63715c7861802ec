# Event-driven scale-out (docs/hooks.md): Azure DevOps service hooks reach the `hook` function through a
# function URL, and a valid job-waiting hook runs that pool's pass at once (same pass, same lease as the
# workflow). Off by default; the schedule stays the backstop either way, since hooks are lossy.

# The shared secret ADO sends as the Basic-auth password. Terraform creates the container only: the value
# never passes through Terraform state (see docs/hooks.md for putting one in).
resource "aws_secretsmanager_secret" "hook" {
  #checkov:skip=CKV2_AWS_57:rotating it means re-installing the subscriptions (`adoscale hooks install`); rotate by hand
  count                   = var.enable_hooks ? 1 : 0
  name                    = "${var.name}/hook-secret"
  description             = "Shared secret of adoscale's Azure DevOps service hooks (hooks.secret_name)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
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

# Auth NONE: Azure DevOps cannot sign requests with SigV4. The shared secret (compared in constant time)
# authenticates every delivery; anything else is refused before any Azure DevOps or AWS call.
resource "aws_lambda_function_url" "hook" {
  #checkov:skip=CKV_AWS_258:ADO service hooks cannot sign requests; the handler authenticates a shared secret
  count              = var.enable_hooks ? 1 : 0
  function_name      = module.function["hook"].function_name
  authorization_type = "NONE"
}

# Since October 2025 AWS also wants `lambda:InvokeFunction` for new function URLs, restricted to calls made
# through the URL (AddPermission's InvokedViaFunctionUrl). The pinned provider (hashicorp/aws 5.100) cannot
# express that condition, and granting InvokeFunction to "*" without it would make the function publicly
# invocable through the Lambda API, so it is left to a newer provider or one CLI call (docs/hooks.md).
resource "aws_lambda_permission" "hook_url" {
  #checkov:skip=CKV_AWS_301:ADO service hooks cannot sign requests: the URL is public by design and every call is authenticated by the shared secret (docs/hooks.md)
  count                  = var.enable_hooks ? 1 : 0
  statement_id           = "FunctionUrlPublic"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = module.function["hook"].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}
