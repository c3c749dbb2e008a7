output "topic_arn" {
  description = "ARN of the SNS alerts topic."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key of the alerts topic (publishers need kms:GenerateDataKey on it)."
  value       = aws_kms_key.this.arn
}

output "rule_names" {
  description = "EventBridge rule name by alert."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.name }
}

output "dead_letter_queue_arn" {
  description = "SQS queue that keeps alert events the SNS topic did not take."
  value       = aws_sqs_queue.dead_letter.arn
}

output "dead_letter_queue_url" {
  description = "URL of the alerts dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "rule_patterns" {
  description = "Event pattern of every alert rule (failures only, of this deployment's resources)."
  value       = { for k, r in local.rules : k => r.pattern }
}
