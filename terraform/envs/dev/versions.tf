terraform {
  required_version = ">= 1.10.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
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
