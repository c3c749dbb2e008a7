version 1.0

# seqflow per-sample germline pipeline on HealthOmics (and miniwdl): the same step scripts
# the Batch jobs and the local profile run, from the same images, with the same arguments.
# Every task is one step implementation of the step catalogue (containers/<tool>/steps.yaml):
#   fastp -> align_bwa | align_minimap2 -> call_variants_bcftools | call_variants_freebayes -> bam_qc, vcf_stats
# Its inputs, outputs and script arguments are the catalogue's; tests hold the two together
# (tests/include/aws/omics/test_germline_workflow.py). The images carry the scripts in
# /usr/local/bin; each script also writes <sample>.<step>.versions.json (tool versions).
#
# sample_id is user input: every task reads it back from a file written by the engine and
# checks it against the Sample_ID rule (seqflow.paths.SAMPLE_ID_PATTERN) before it reaches
# a file name or the command line, so no value of it can change a command; the scripts
# check it again.
#
# Each script keeps its tools' stderr in <sample>.<step>.log (an output); a failing script
# prints the log's tail and a "seqflow-error:" line with the cause on stderr (the task's
# CloudWatch log) and exits 3 when the input reads cannot be trusted (containers/README.md).
# The fastp and align tasks take R2 as optional, passed to the scripts as "-" when absent
# (single-end reads); the workflow's fastq_r2 is still required.

workflow germline {
    meta {
        description: "One sample: read QC and trimming, alignment with duplicate marking, germline small-variant calling, QC statistics, tool versions."
    }

    input {
        String sample_id
        String aligner
        String caller
        File fastq_r1
        File fastq_r2
        File reference_fasta
        File reference_fai
        File reference_ploidy
        File? reference_amb
        File? reference_ann
        File? reference_bwt
        File? reference_pac
        File? reference_sa
        File? reference_mmi

        String fastp_image
        String? bwa_image
        String? minimap2_image
        String samtools_image
        String bcftools_image
        String? freebayes_image

        Int fastp_cpu = 4
        Int fastp_memory_gb = 8
        Int align_bwa_cpu = 16
        Int align_bwa_memory_gb = 32
        Int align_minimap2_cpu = 4
        Int align_minimap2_memory_gb = 18
        Int call_variants_bcftools_cpu = 1
        Int call_variants_bcftools_memory_gb = 2
        Int call_variants_freebayes_cpu = 1
        Int call_variants_freebayes_memory_gb = 2
        Int bam_qc_cpu = 1
        Int bam_qc_memory_gb = 2
        Int vcf_stats_cpu = 1
        Int vcf_stats_memory_gb = 2
    }

    parameter_meta {
        sample_id: "Sample_ID from the sample sheet: letters, digits, '_' and '-', starting with a letter or digit"
        aligner: "bwa or minimap2: selects the alignment task (and the index inputs it needs)"
        caller: "bcftools or freebayes: selects the variant-calling task"
        reference_fai: "samtools faidx index of the reference (.fai)"
        reference_ploidy: "bcftools ploidy file of the reference (CHROM FROM TO SEX PLOIDY), <name>.ploidy in the reference catalogue"
        reference_amb: "bwa index (.amb); required when aligner is bwa"
        reference_mmi: "minimap2 index (.mmi); required when aligner is minimap2"
        bwa_image: "ECR URI of the bwa image; required when aligner is bwa"
        minimap2_image: "ECR URI of the minimap2 image; required when aligner is minimap2"
        freebayes_image: "ECR URI of the freebayes image; required when caller is freebayes"
    }

    call fastp {
        input:
            sample_id = sample_id,
            r1 = fastq_r1,
            r2 = fastq_r2,
            docker_image = fastp_image,
            cpu = fastp_cpu,
            memory_gb = fastp_memory_gb
    }

    if (aligner == "bwa") {
        call align_bwa {
            input:
                sample_id = sample_id,
                reference = reference_fasta,
                reference_fai = reference_fai,
                reference_amb = select_first([reference_amb]),
                reference_ann = select_first([reference_ann]),
                reference_bwt = select_first([reference_bwt]),
                reference_pac = select_first([reference_pac]),
                reference_sa = select_first([reference_sa]),
                r1 = fastp.trimmed_r1,
                r2 = fastp.trimmed_r2,
                docker_image = select_first([bwa_image]),
                cpu = align_bwa_cpu,
                memory_gb = align_bwa_memory_gb
        }
    }

    if (aligner == "minimap2") {
        call align_minimap2 {
            input:
                sample_id = sample_id,
                reference = reference_fasta,
                reference_fai = reference_fai,
                reference_mmi = select_first([reference_mmi]),
                r1 = fastp.trimmed_r1,
                r2 = fastp.trimmed_r2,
                docker_image = select_first([minimap2_image]),
                cpu = align_minimap2_cpu,
                memory_gb = align_minimap2_memory_gb
        }
    }

    # an aligner or caller the catalogue does not offer runs no task here and fails below
    File aligned_bam = select_first([align_bwa.bam, align_minimap2.bam])
    File aligned_bai = select_first([align_bwa.bai, align_minimap2.bai])

    if (caller == "bcftools") {
        call call_variants_bcftools {
            input:
                sample_id = sample_id,
                reference = reference_fasta,
                reference_fai = reference_fai,
                bam = aligned_bam,
                bam_bai = aligned_bai,
                ploidy_file = reference_ploidy,
                docker_image = bcftools_image,
                cpu = call_variants_bcftools_cpu,
                memory_gb = call_variants_bcftools_memory_gb
        }
    }

    if (caller == "freebayes") {
        call call_variants_freebayes {
            input:
                sample_id = sample_id,
                reference = reference_fasta,
                reference_fai = reference_fai,
                bam = aligned_bam,
                bam_bai = aligned_bai,
                ploidy_file = reference_ploidy,
                docker_image = select_first([freebayes_image]),
                cpu = call_variants_freebayes_cpu,
                memory_gb = call_variants_freebayes_memory_gb
        }
    }

    File called_vcf = select_first([call_variants_bcftools.vcf, call_variants_freebayes.vcf])
    File called_tbi = select_first([call_variants_bcftools.tbi, call_variants_freebayes.tbi])

    call bam_qc {
        input:
            sample_id = sample_id,
            bam = aligned_bam,
            bam_bai = aligned_bai,
            docker_image = samtools_image,
            cpu = bam_qc_cpu,
            memory_gb = bam_qc_memory_gb
    }

    call vcf_stats {
        input:
            sample_id = sample_id,
            reference = reference_fasta,
            reference_fai = reference_fai,
            vcf = called_vcf,
            vcf_tbi = called_tbi,
            docker_image = bcftools_image,
            cpu = vcf_stats_cpu,
            memory_gb = vcf_stats_memory_gb
    }

    output {
        File fastp_json = fastp.fastp_json
        File fastp_html = fastp.fastp_html
        File fastp_versions = fastp.fastp_versions
        File fastp_log = fastp.fastp_log
        File bam = aligned_bam
        File bai = aligned_bai
        File markdup = select_first([align_bwa.markdup, align_minimap2.markdup])
        File align_versions = select_first([align_bwa.align_versions, align_minimap2.align_versions])
        File align_log = select_first([align_bwa.align_log, align_minimap2.align_log])
        File vcf = called_vcf
        File tbi = called_tbi
        File call_variants_versions = select_first([call_variants_bcftools.call_variants_versions,
                                                    call_variants_freebayes.call_variants_versions])
        File call_variants_log = select_first([call_variants_bcftools.call_variants_log,
                                               call_variants_freebayes.call_variants_log])
        File flagstat = bam_qc.flagstat
        File coverage = bam_qc.coverage
        File samtools_stats = bam_qc.samtools_stats
        File bam_qc_versions = bam_qc.bam_qc_versions
        File bam_qc_log = bam_qc.bam_qc_log
        File bcftools_stats = vcf_stats.bcftools_stats
        File vcf_stats_versions = vcf_stats.vcf_stats_versions
        File vcf_stats_log = vcf_stats.vcf_stats_log
    }
}

task fastp {
    input {
        String sample_id
        File r1
        File? r2
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        fastp_qc.sh "$sample" "~{r1}" "~{default="-" r2}" . ~{cpu}
    >>>

    output {
        File trimmed_r1 = "~{sample_id}.trimmed_R1.fastq.gz"
        File? trimmed_r2 = "~{sample_id}.trimmed_R2.fastq.gz"
        File fastp_json = "~{sample_id}.fastp.json"
        File fastp_html = "~{sample_id}.fastp.html"
        File fastp_versions = "~{sample_id}.fastp.versions.json"
        File fastp_log = "~{sample_id}.fastp.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task align_bwa {
    input {
        String sample_id
        File reference
        File reference_fai
        File reference_amb
        File reference_ann
        File reference_bwt
        File reference_pac
        File reference_sa
        File r1
        File? r2
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        # the script finds the index beside the FASTA, but the engine may localise each
        # input file in a folder of its own: put them side by side under one name
        mkdir -p ref
        ln -s "~{reference}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{reference_amb}" ref/genome.fa.amb
        ln -s "~{reference_ann}" ref/genome.fa.ann
        ln -s "~{reference_bwt}" ref/genome.fa.bwt
        ln -s "~{reference_pac}" ref/genome.fa.pac
        ln -s "~{reference_sa}" ref/genome.fa.sa
        align.sh "$sample" ref/genome.fa "~{r1}" "~{default="-" r2}" . ~{cpu}
    >>>

    output {
        File bam = "~{sample_id}.bam"
        File bai = "~{sample_id}.bam.bai"
        File markdup = "~{sample_id}.markdup.txt"
        File align_versions = "~{sample_id}.align.versions.json"
        File align_log = "~{sample_id}.align.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task align_minimap2 {
    input {
        String sample_id
        File reference
        File reference_fai
        File reference_mmi
        File r1
        File? r2
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p ref
        ln -s "~{reference}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{reference_mmi}" ref/genome.fa.mmi
        align.sh "$sample" ref/genome.fa "~{r1}" "~{default="-" r2}" . ~{cpu}
    >>>

    output {
        File bam = "~{sample_id}.bam"
        File bai = "~{sample_id}.bam.bai"
        File markdup = "~{sample_id}.markdup.txt"
        File align_versions = "~{sample_id}.align.versions.json"
        File align_log = "~{sample_id}.align.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task call_variants_bcftools {
    input {
        String sample_id
        File reference
        File reference_fai
        File bam
        File bam_bai
        File ploidy_file
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p ref aln
        ln -s "~{reference}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{bam}" aln/sample.bam
        ln -s "~{bam_bai}" aln/sample.bam.bai
        call_variants.sh "$sample" ref/genome.fa aln/sample.bam . "~{ploidy_file}" ~{cpu} -
    >>>

    output {
        File vcf = "~{sample_id}.vcf.gz"
        File tbi = "~{sample_id}.vcf.gz.tbi"
        File call_variants_versions = "~{sample_id}.call_variants.versions.json"
        File call_variants_log = "~{sample_id}.call_variants.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task call_variants_freebayes {
    input {
        String sample_id
        File reference
        File reference_fai
        File bam
        File bam_bai
        File ploidy_file
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p ref aln
        ln -s "~{reference}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{bam}" aln/sample.bam
        ln -s "~{bam_bai}" aln/sample.bam.bai
        call_variants.sh "$sample" ref/genome.fa aln/sample.bam . "~{ploidy_file}" ~{cpu} -
    >>>

    output {
        File vcf = "~{sample_id}.vcf.gz"
        File tbi = "~{sample_id}.vcf.gz.tbi"
        File call_variants_versions = "~{sample_id}.call_variants.versions.json"
        File call_variants_log = "~{sample_id}.call_variants.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task bam_qc {
    input {
        String sample_id
        File bam
        File bam_bai
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p aln
        ln -s "~{bam}" aln/sample.bam
        ln -s "~{bam_bai}" aln/sample.bam.bai
        bam_qc.sh "$sample" aln/sample.bam . ~{cpu}
    >>>

    output {
        File flagstat = "~{sample_id}.flagstat.json"
        File coverage = "~{sample_id}.coverage.tsv"
        File samtools_stats = "~{sample_id}.samtools_stats.txt"
        File bam_qc_versions = "~{sample_id}.bam_qc.versions.json"
        File bam_qc_log = "~{sample_id}.bam_qc.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task vcf_stats {
    input {
        String sample_id
        File reference
        File reference_fai
        File vcf
        File vcf_tbi
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p ref calls
        ln -s "~{reference}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{vcf}" calls/sample.vcf.gz
        ln -s "~{vcf_tbi}" calls/sample.vcf.gz.tbi
        vcf_stats.sh "$sample" ref/genome.fa calls/sample.vcf.gz . ~{cpu}
    >>>

    output {
        File bcftools_stats = "~{sample_id}.bcftools_stats.txt"
        File vcf_stats_versions = "~{sample_id}.vcf_stats.versions.json"
        File vcf_stats_log = "~{sample_id}.vcf_stats.log"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}
