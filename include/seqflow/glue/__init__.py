"""AWS Glue job scripts (uploaded by Terraform)."""
