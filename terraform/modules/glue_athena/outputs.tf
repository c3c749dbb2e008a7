output "database_name" {
  description = "Glue database of the lake."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Lake table names (Iceberg tables declared here; their first writer sets the partition spec and properties)."
  value       = local.tables
}

output "table_arns" {
  description = "Lake table and view ARNs (for IAM: the tables and views need not exist yet)."
  value       = local.table_arns
}

output "database_arn" {
  description = "ARN of the Glue database."
  value       = aws_glue_catalog_database.this.arn
}

output "job_name" {
  description = "Name of the VCF -> Parquet Glue job."
  value       = aws_glue_job.this.name
}

output "job_arn" {
  description = "ARN of the Glue job."
  value       = aws_glue_job.this.arn
}

output "workgroup_name" {
  description = "Athena workgroup (engine v3)."
  value       = aws_athena_workgroup.this.name
}

output "workgroup_arn" {
  description = "ARN of the Athena workgroup."
  value       = aws_athena_workgroup.this.arn
}

output "named_query_ids" {
  description = "Athena named query id by SQL file name."
  value       = { for k, q in aws_athena_named_query.this : k => q.id }
}
