output "job_definitions" {
  description = "Job definition id -> image (a tool folder), command, vcpus, memory_mib, timeout_seconds, attempts."
  value       = local.job_definitions

  precondition {
    condition     = length(setsubtract(keys(var.overrides), keys(local.catalogue))) == 0
    error_message = "overrides name job definitions the step catalogue does not have; ids: ${join(", ", sort(keys(local.catalogue)))}."
  }
}
