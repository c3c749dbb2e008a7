output "budget_name" {
  description = "Name of the monthly budget."
  value       = aws_budgets_budget.this.name
}

output "cost_allocation_tags" {
  description = "Tag keys activated for cost allocation (empty until activation is enabled)."
  value       = [for t in aws_ce_cost_allocation_tag.this : t.tag_key]
}
