# The Batch job definitions of the per-sample steps, decoded from the step
# catalogue (containers/<tool>/steps.yaml), where each step's script,
# arguments and resources are written once. No resources and no providers:
# tests apply this module alone to compare its result with the catalogue as
# Python reads it (seqflow.analysis.catalog, seqflow.aws.batch.job_definitions).

locals {
  catalogue_files = sort(fileset(var.containers_dir, "*/steps.yaml"))
  documents       = [for f in local.catalogue_files : yamldecode(file("${var.containers_dir}/${f}"))]

  steps = flatten([
    for doc in local.documents : [
      for step in doc.steps : merge(step, { image = doc.image })
    ]
  ])

  # one job definition per per-sample step implementation and per gather step
  # (gather_calls: the calling shards' VCFs into the sample's); an implementation
  # chosen by an aligner or caller is <name>_<value> (align_bwa), as in
  # seqflow.analysis.catalog.Step.id
  catalogue = {
    for step in local.steps :
    join("_", compact([step.name, try(step.aligner, ""), try(step.caller, "")])) => {
      image = step.image
      # the S3 staging entrypoint stages inputs under inputs/ and uploads outputs/;
      # SubmitJob fills the Ref:: parameters (threads defaults to the vCPUs)
      command         = concat([step.script], [for a in step.arguments : a.kind == "output_dir" ? "outputs" : "Ref::${a.name}"])
      vcpus           = step.resources.vcpus
      memory_mib      = step.resources.memory_mib
      timeout_seconds = step.resources.timeout_seconds
    }
    if contains(["sample", "gather"], try(step.scope, "sample"))
  }

  job_definitions = {
    for id, d in local.catalogue : id => merge(
      d,
      { attempts = var.default_attempts },
      { for k, v in try(var.overrides[id], {}) : k => v if v != null },
    )
  }
}
