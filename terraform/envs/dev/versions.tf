terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    awscc = {
      source  = "hashicorp/awscc"
      version = "~> 1.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }

  # bucket and region come from backend.hcl (terraform init -backend-config=backend.hcl);
  # the key is this environment's own
  backend "s3" {
    key          = "seqflow/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
