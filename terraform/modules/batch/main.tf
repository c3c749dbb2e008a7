# AWS Batch for the per-sample steps: a Spot and an On-Demand compute
# environment, a default queue (Spot first, On-Demand fallback), a priority
# On-Demand queue, and one job definition per pipeline step.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id
  partition  = data.aws_partition.current.partition

  # instance-store scratch needs the families with local NVMe disks (the "d" ones)
  instance_types = coalesce(var.instance_types, var.scratch_storage == "instance_store" ? ["m6id", "c6id", "r6id", "m5d", "c5d", "r5d"] : ["m6i", "m7i", "r6i", "r7i", "c6i", "c7i"])
  scratch_device = "/dev/xvdb"

  # what the ECS agent of every instance is told (ECS_CLUSTER comes from Batch)
  ecs_agent_config = {
    # stopped job containers, and the scratch in their layer, go after minutes, not the default 3 h
    ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION = var.ecs_task_cleanup_wait
    ECS_IMAGE_CLEANUP_INTERVAL            = var.ecs_image_cleanup_interval
    # a Spot interruption notice drains the instance: no new job lands on it
    ECS_ENABLE_SPOT_INSTANCE_DRAINING = "true"
  }

  user_data = templatefile("${path.module}/user_data.tftpl", {
    scratch_storage  = var.scratch_storage
    scratch_device   = local.scratch_device
    ecs_agent_config = local.ecs_agent_config
  })

  compute_environment_types = {
    (aws_batch_compute_environment.spot.arn)      = aws_batch_compute_environment.spot.compute_resources[0].type
    (aws_batch_compute_environment.on_demand.arn) = aws_batch_compute_environment.on_demand.compute_resources[0].type
  }
}

# ---------------------------------------------------------------- IAM

# The compute environments name no service role, so Batch uses its
# service-linked role AWSServiceRoleForBatch (the legacy AWSBatchServiceRole
# cannot update a compute environment's launch template or instance types in
# place). Batch creates the role on first use when the caller may
# iam:CreateServiceLinkedRole; create_service_linked_role creates it here instead.
resource "aws_iam_service_linked_role" "batch" {
  count = var.create_service_linked_role ? 1 : 0

  aws_service_name = "batch.amazonaws.com"
  description      = "AWS Batch compute environments of ${var.name_prefix}"
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# the container instance role only runs the ECS agent; jobs get the job role
resource "aws_iam_role" "instance" {
  name               = "${var.name_prefix}-batch-instance"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "instance_ecs" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_role_policy_attachment" "instance_ssm" {
  count = var.enable_ssm_session_manager ? 1 : 0

  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name_prefix}-batch-instance"
  role = aws_iam_role.instance.name
}

data "aws_iam_policy_document" "job_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# what the S3 staging entrypoint (containers/_common/s3_stage.py) does: read
# inputs, write outputs under the results and scratch buckets
resource "aws_iam_role" "job" {
  name               = "${var.name_prefix}-batch-job"
  assume_role_policy = data.aws_iam_policy_document.job_assume.json
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListStagedBuckets"
    actions   = ["s3:ListBucket"]
    resources = distinct(concat(var.read_bucket_arns, var.write_bucket_arns))
  }

  statement {
    sid       = "ReadInputs"
    actions   = ["s3:GetObject"]
    resources = [for arn in distinct(concat(var.read_bucket_arns, var.write_bucket_arns)) : "${arn}/*"]
  }

  statement {
    sid = "WriteOutputs"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
    ]
    resources = concat([for arn in var.write_bucket_arns : "${arn}/*"], var.write_object_arns)
  }

  statement {
    sid = "UseDataKeyThroughS3"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "stage-inputs-and-outputs"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# ---------------------------------------------------------------- network

resource "aws_security_group" "this" {
  name        = "${var.name_prefix}-batch"
  description = "Batch container instances: no inbound, HTTPS out (S3, ECR, ECS, Logs via endpoints or NAT)"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name_prefix}-batch"
  }
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ---------------------------------------------------------------- compute

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name_prefix}-batch-"
  description            = "seqflow Batch instances: IMDSv2 only, Docker storage on a scratch volume of its own, short ECS task cleanup"
  update_default_version = true

  # hop limit 1: containers (one hop further) cannot reach the instance
  # metadata service, so jobs only ever hold the job role's credentials
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # the root volume holds the OS, the ECS agent and its logs only
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_size_gib
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  # Every job runs in its own container; its /scratch (staged inputs, sort
  # temporaries, outputs) is in the container's writable layer, which lives in
  # Docker's storage. The user data puts Docker's storage on this volume (or,
  # with scratch_storage = "instance_store", on the instance-store disks, whose
  # size grows with the instance and so with the number of jobs it packs).
  dynamic "block_device_mappings" {
    for_each = var.scratch_storage == "ebs" ? [1] : []
    content {
      device_name = local.scratch_device
      ebs {
        volume_size           = var.scratch_volume_size_gib
        volume_type           = "gp3"
        iops                  = var.scratch_volume_iops
        throughput            = var.scratch_volume_throughput
        encrypted             = true
        kms_key_id            = var.ebs_kms_key_arn
        delete_on_termination = true
      }
    }
  }

  # Batch requires MIME multi-part user data; it appends ECS_CLUSTER itself
  user_data = base64encode(local.user_data)

  tag_specifications {
    resource_type = "volume"
    tags = {
      Name = "${var.name_prefix}-batch-scratch"
    }
  }
}

# No name: the provider generates a unique one, which create_before_destroy
# needs, and the argument is spelled differently in provider 5.x
# (compute_environment_name_prefix) and 6.x (name_prefix). The Name tag and the
# queue order say which is which.
resource "aws_batch_compute_environment" "spot" {
  type  = "MANAGED"
  state = "ENABLED"

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    min_vcpus           = 0
    max_vcpus           = var.spot_max_vcpus
    instance_type       = local.instance_types
    instance_role       = aws_iam_instance_profile.instance.arn
    security_group_ids  = [aws_security_group.this.id]
    subnets             = var.subnet_ids

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    ec2_configuration {
      image_type = "ECS_AL2023"
    }

    tags = {
      Name     = "${var.name_prefix}-batch-spot"
      capacity = "spot"
    }
  }

  # a replaced environment must exist before the queues let go of the old one
  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_iam_service_linked_role.batch]
}

resource "aws_batch_compute_environment" "on_demand" {
  type  = "MANAGED"
  state = "ENABLED"

  compute_resources {
    type                = "EC2"
    allocation_strategy = "BEST_FIT_PROGRESSIVE"
    min_vcpus           = 0
    max_vcpus           = var.on_demand_max_vcpus
    instance_type       = local.instance_types
    instance_role       = aws_iam_instance_profile.instance.arn
    security_group_ids  = [aws_security_group.this.id]
    subnets             = var.subnet_ids

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    ec2_configuration {
      image_type = "ECS_AL2023"
    }

    tags = {
      Name     = "${var.name_prefix}-batch-ondemand"
      capacity = "on-demand"
    }
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_iam_service_linked_role.batch]
}

resource "aws_batch_job_queue" "this" {
  name     = "${var.name_prefix}-default"
  state    = "ENABLED"
  priority = 1

  # Spot first; On-Demand takes what Spot cannot place (the Spot environment
  # at its max_vcpus, or Spot capacity short in every pool of instance_types)
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot.arn
  }

  compute_environment_order {
    order               = 2
    compute_environment = aws_batch_compute_environment.on_demand.arn
  }

  # a job asking for more than any instance type offers would wait forever
  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = 600
    reason           = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    state            = "RUNNABLE"
  }

  # When Spot has no capacity Batch places jobs on the next environment in
  # order (On-Demand); when none has (Batch detects this through the
  # service-linked role), a job is cancelled after a while instead of
  # blocking the head of the queue, and the failure alert says why.
  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = var.insufficient_capacity_timeout_seconds
    reason           = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    state            = "RUNNABLE"
  }
}

resource "aws_batch_job_queue" "priority" {
  name     = "${var.name_prefix}-priority"
  state    = "ENABLED"
  priority = 10

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.on_demand.arn
  }

  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = 600
    reason           = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
    state            = "RUNNABLE"
  }

  # When Spot has no capacity Batch places jobs on the next environment in
  # order (On-Demand); when none has (Batch detects this through the
  # service-linked role), a job is cancelled after a while instead of
  # blocking the head of the queue, and the failure alert says why.
  job_state_time_limit_action {
    action           = "CANCEL"
    max_time_seconds = var.insufficient_capacity_timeout_seconds
    reason           = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
    state            = "RUNNABLE"
  }
}

# ---------------------------------------------------------------- jobs

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/batch/${var.name_prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

# one job definition per per-sample step implementation of the step catalogue
# (containers/<tool>/steps.yaml): command and resources are the catalogue's,
# var.job_definitions may raise the resources per environment
module "steps" {
  source = "./steps"

  containers_dir = coalesce(var.containers_dir, "${path.module}/../../../containers")
  overrides      = var.job_definitions
}

resource "aws_batch_job_definition" "this" {
  for_each = module.steps.job_definitions

  name                  = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  type                  = "container"
  platform_capabilities = ["EC2"]
  # jobs carry run_id, sample_id, project and pipeline_version tags from
  # SubmitJob; propagating them to the ECS task makes them cost-allocatable
  propagate_tags = true

  # defaults of the value arguments SubmitJob may leave out: threads the vCPUs, regions "-" (the whole
  # genome: call_variants' calling shard, seqflow.references.intervals; other steps take no Ref::regions)
  parameters = { threads = tostring(each.value.vcpus), regions = "-" }

  container_properties = jsonencode({
    image      = var.images[each.value.image]
    command    = each.value.command
    jobRoleArn = aws_iam_role.job.arn
    resourceRequirements = [
      { type = "VCPU", value = tostring(each.value.vcpus) },
      { type = "MEMORY", value = tostring(each.value.memory_mib) },
    ]
    environment = [
      { name = "SEQFLOW_WORKDIR", value = "/scratch" },
      { name = "SEQFLOW_KMS_KEY_ARN", value = var.kms_key_arn },
    ]
    privileged = false
    linuxParameters = {
      initProcessEnabled = true
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  })

  # Spot reclaims end a job with a status reason starting "Host EC2"; only
  # those are retried. Anything else is a real failure and Airflow decides.
  retry_strategy {
    attempts = each.value.attempts

    evaluate_on_exit {
      on_status_reason = "Host EC2*"
      action           = "RETRY"
    }

    evaluate_on_exit {
      on_reason = "*"
      action    = "EXIT"
    }
  }

  timeout {
    attempt_duration_seconds = each.value.timeout_seconds
  }

  tags = {
    pipeline_step = each.key
  }
}
