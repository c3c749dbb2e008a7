terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
    # the aws provider has no HealthOmics workflow or run group resource
    awscc = {
      source  = "hashicorp/awscc"
      version = ">= 1.50.0, < 2.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.7.0, < 3.0.0"
    }
  }
}
