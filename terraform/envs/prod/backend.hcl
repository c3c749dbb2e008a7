# terraform init -backend-config=backend.hcl
# The state bucket is created once per organisation outside this stack
# (versioned, SSE-KMS, public access blocked); replace the placeholders.
bucket = "REPLACE-with-terraform-state-bucket"
region = "eu-west-1"
