output "queue_url" {
  description = "URL of the run-flags queue (the seqflow.run_events_queue Airflow option)."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the run-flags queue (the execution role receives and deletes its messages)."
  value       = aws_sqs_queue.this.arn
}

output "dead_letter_queue_arn" {
  description = "ARN of the queue that keeps the events the rule could not deliver."
  value       = aws_sqs_queue.dead_letter.arn
}

output "flag_keys" {
  description = "The object keys the rule matches, as EventBridge wildcard filters (tests check the flag names against the code's)."
  value       = local.flag_keys
}

output "launch_queue_url" {
  description = "URL of the launch-files queue (the seqflow.launch_queue Airflow option)."
  value       = aws_sqs_queue.launch.url
}

output "launch_queue_arn" {
  description = "ARN of the launch-files queue (the execution role receives and deletes its messages)."
  value       = aws_sqs_queue.launch.arn
}

output "launch_dead_letter_queue_arn" {
  description = "ARN of the queue that keeps the launch-file events the rule could not deliver."
  value       = aws_sqs_queue.launch_dead_letter.arn
}

output "launch_prefix" {
  description = "The key prefix of launch files in the raw bucket (the launch rule matches every object under it)."
  value       = var.launch_prefix
}
