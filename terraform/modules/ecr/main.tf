# One private repository per tool image (containers/<tool>/), immutable tags,
# scanned on push, KMS-encrypted, and readable by HealthOmics.

resource "aws_ecr_repository" "this" {
  for_each = toset(var.tools)

  name                 = "${var.repository_prefix}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = toset(var.tools)

  repository = aws_ecr_repository.this[each.key].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged layers left by interrupted pushes"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        # job definitions and past HealthOmics runs pin tags: keep a long tail
        rulePriority = 2
        description  = "Keep the newest tagged images"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.tagged_images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}

# HealthOmics pulls task images from private ECR repositories with its service
# principal; it needs exactly these three read actions.
data "aws_iam_policy_document" "omics_pull" {
  statement {
    sid = "HealthOmicsPull"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchCheckLayerAvailability",
    ]
    principals {
      type        = "Service"
      identifiers = ["omics.amazonaws.com"]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  for_each = var.allow_healthomics_pull ? toset(var.tools) : toset([])

  repository = aws_ecr_repository.this[each.key].name
  policy     = data.aws_iam_policy_document.omics_pull.json
}
