# The agents' network, three ways (see README: what each reaches, exposes and costs).
#   nat:       private subnets; one NAT gateway in a public subnet carries all egress.
#   public:    the agents' subnets route to the internet gateway; tasks get public IPs (nothing inbound:
#              their security group has no ingress rule).
#   endpoints: private subnets; AWS APIs through interface endpoints, everything else (dev.azure.com)
#              through your transit gateway to a shared egress VPC.
#   nat and endpoints also get the S3 gateway endpoint (image layers, free).

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:only the first az_count zones are used (slice), so a new zone changes no subnet
  state = "available"
}

locals {
  nat       = var.mode == "nat"
  public    = var.mode == "public"
  endpoints = var.mode == "endpoints"
  azs       = slice(data.aws_availability_zones.available.names, 0, var.az_count)
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_hostnames = true # interface endpoints' private DNS and RunTask need both
  enable_dns_support   = true
  tags                 = merge(var.tags, { Name = var.name })
  lifecycle {
    precondition {
      condition     = !local.endpoints || var.transit_gateway_id != null
      error_message = "mode = endpoints needs transit_gateway_id: the agents reach dev.azure.com through it."
    }
  }
}

resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id # no rules: nothing may use the default group by accident
  tags   = var.tags
}

resource "aws_subnet" "agents" {
  count             = var.az_count
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index)
  tags              = merge(var.tags, { Name = "${var.name}-agents-${local.azs[count.index]}" })
}

resource "aws_route_table" "agents" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-agents" })
}

resource "aws_route_table_association" "agents" {
  count          = var.az_count
  subnet_id      = aws_subnet.agents[count.index].id
  route_table_id = aws_route_table.agents.id
}

resource "aws_route" "agents_default" {
  route_table_id         = aws_route_table.agents.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = local.nat ? aws_nat_gateway.this[0].id : null
  gateway_id             = local.public ? aws_internet_gateway.this[0].id : null
  transit_gateway_id     = local.endpoints ? var.transit_gateway_id : null
  depends_on             = [aws_ec2_transit_gateway_vpc_attachment.this]
}

# -- nat and public: the internet gateway --------------------------------------------------------------

resource "aws_internet_gateway" "this" {
  count  = local.endpoints ? 0 : 1
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

# -- nat: one NAT gateway in its own public subnet --------------------------------------------------------

resource "aws_subnet" "nat" {
  count             = local.nat ? 1 : 0
  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[0]
  cidr_block        = cidrsubnet(var.cidr_block, 8, 255)
  tags              = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_route_table" "nat" {
  count  = local.nat ? 1 : 0
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }
  tags = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_route_table_association" "nat" {
  count          = local.nat ? 1 : 0
  subnet_id      = aws_subnet.nat[0].id
  route_table_id = aws_route_table.nat[0].id
}

resource "aws_eip" "nat" {
  count  = local.nat ? 1 : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_nat_gateway" "this" {
  count         = local.nat ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.nat[0].id
  tags          = merge(var.tags, { Name = var.name })
  depends_on    = [aws_internet_gateway.this]
}

# -- endpoints: AWS through interface endpoints, the rest through the transit gateway ---------------------

resource "aws_ec2_transit_gateway_vpc_attachment" "this" {
  count              = local.endpoints ? 1 : 0
  transit_gateway_id = var.transit_gateway_id
  vpc_id             = aws_vpc.this.id
  subnet_ids         = aws_subnet.agents[*].id
  tags               = merge(var.tags, { Name = var.name })
}

resource "aws_security_group" "endpoints" {
  count       = local.endpoints ? 1 : 0
  name        = "${var.name}-endpoints"
  description = "adoscale interface endpoints: HTTPS from the VPC"
  vpc_id      = aws_vpc.this.id
  ingress {
    description = "HTTPS from the agents"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.cidr_block]
  }
  tags = var.tags
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.endpoints ? toset(var.interface_endpoints) : toset([])
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.agents[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  tags                = merge(var.tags, { Name = "${var.name}-${each.value}" })
}

# Every mode with private subnets (nat, endpoints): ECR serves image layers from S3, and without this free
# gateway endpoint each pull would cross the NAT gateway (paid per GB) or the transit gateway.
resource "aws_vpc_endpoint" "s3" {
  count             = local.public ? 0 : 1
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3" # ECR keeps image layers in S3
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.agents.id]
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

# -- flow logs --------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/adoscale/${var.name}/vpc-flow"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "flow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flow" {
  name               = "${var.name}-vpc-flow"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow" {
  name = "write-flow-logs"
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow.arn}:*"
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id          = aws_vpc.this.id
  traffic_type    = "REJECT" # what the security groups and routes refused: the first place to look
  log_destination = aws_cloudwatch_log_group.flow.arn
  iam_role_arn    = aws_iam_role.flow.arn
  tags            = var.tags
}
