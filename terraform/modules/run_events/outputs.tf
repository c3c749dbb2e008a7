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
