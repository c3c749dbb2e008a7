output "dashboard_name" {
  description = "CloudWatch dashboard of the deployment."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "CloudWatch alarm names by purpose."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name },
    var.mwaa_environment_name == null ? {} : { mwaa_scheduler_heartbeat = aws_cloudwatch_metric_alarm.mwaa_scheduler_heartbeat[0].alarm_name },
  )
}

output "metric_namespace" {
  description = "CloudWatch namespace of the pipeline metrics."
  value       = local.namespace
}

output "glue_log_group_names" {
  description = "Log groups of the Glue converter created with retention."
  value       = sort([for g in aws_cloudwatch_log_group.glue : g.name])
}
