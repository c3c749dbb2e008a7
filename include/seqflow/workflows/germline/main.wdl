version 1.0

# seqflow per-sample germline pipeline, the HealthOmics (and miniwdl) definition of the same
# steps the Batch engine and the local profile run from containers/*/:
#   fastp QC and trimming -> bwa mem (or minimap2 -x sr) | samtools fixmate/sort/markdup
#   -> bcftools mpileup/call/norm -> samtools and bcftools statistics.
#
# sample_id is user input: every task reads it back from a file written by the engine and
# checks it against a strict pattern before it reaches a file name or the command line,
# so no value of it can change a command.

workflow germline {
    meta {
        description: "One sample: read QC and trimming, alignment with duplicate marking, germline small-variant calling, QC statistics."
    }

    input {
        String sample_id
        File fastq_r1
        File fastq_r2
        File reference_fasta
        File reference_fai
        File reference_amb
        File reference_ann
        File reference_bwt
        File reference_pac
        File reference_sa
        File? reference_mmi
        String aligner = "bwa"
        Int ploidy = 2

        String fastp_image
        String bwa_image
        String? minimap2_image
        String samtools_image
        String bcftools_image

        Int fastp_cpu = 4
        Int fastp_memory_gb = 8
        Int align_cpu = 16
        Int align_memory_gb = 32
        Int call_cpu = 4
        Int call_memory_gb = 8
        Int stats_cpu = 2
        Int stats_memory_gb = 4
    }

    parameter_meta {
        sample_id: "Sample_ID from the sample sheet; letters, digits, '.', '_' and '-' only"
        fastq_r1: "Read 1 FASTQ (gzipped)"
        fastq_r2: "Read 2 FASTQ (gzipped)"
        reference_fasta: "Reference genome FASTA"
        reference_fai: "samtools faidx index of the reference (.fai)"
        aligner: "bwa (default) or minimap2"
        reference_mmi: "minimap2 index (.mmi); minimap2 indexes the FASTA itself when absent"
        ploidy: "1 (haploid genomes) or 2 (default)"
        minimap2_image: "ECR URI of the minimap2 image; required when aligner is minimap2"
    }

    call fastp_qc {
        input:
            sample_id = sample_id,
            fastq_r1 = fastq_r1,
            fastq_r2 = fastq_r2,
            docker_image = fastp_image,
            cpu = fastp_cpu,
            memory_gb = fastp_memory_gb
    }

    call align {
        input:
            sample_id = sample_id,
            fastq_r1 = fastp_qc.trimmed_r1,
            fastq_r2 = fastp_qc.trimmed_r2,
            reference_fasta = reference_fasta,
            reference_fai = reference_fai,
            reference_amb = reference_amb,
            reference_ann = reference_ann,
            reference_bwt = reference_bwt,
            reference_pac = reference_pac,
            reference_sa = reference_sa,
            reference_mmi = reference_mmi,
            aligner = aligner,
            docker_image = if aligner == "minimap2" then select_first([minimap2_image]) else bwa_image,
            cpu = align_cpu,
            memory_gb = align_memory_gb
    }

    call call_variants {
        input:
            sample_id = sample_id,
            bam = align.bam,
            bai = align.bai,
            reference_fasta = reference_fasta,
            reference_fai = reference_fai,
            ploidy = ploidy,
            docker_image = bcftools_image,
            cpu = call_cpu,
            memory_gb = call_memory_gb
    }

    call bam_stats {
        input:
            sample_id = sample_id,
            bam = align.bam,
            bai = align.bai,
            docker_image = samtools_image,
            cpu = stats_cpu,
            memory_gb = stats_memory_gb
    }

    call vcf_stats {
        input:
            sample_id = sample_id,
            vcf = call_variants.vcf,
            vcf_index = call_variants.vcf_index,
            reference_fasta = reference_fasta,
            reference_fai = reference_fai,
            docker_image = bcftools_image,
            cpu = stats_cpu,
            memory_gb = stats_memory_gb
    }

    output {
        File bam = align.bam
        File bai = align.bai
        File markdup_metrics = align.markdup_metrics
        File vcf = call_variants.vcf
        File vcf_index = call_variants.vcf_index
        File fastp_json = fastp_qc.json
        File fastp_html = fastp_qc.html
        File flagstat_json = bam_stats.flagstat_json
        File coverage = bam_stats.coverage
        File samtools_stats = bam_stats.samtools_stats
        File bcftools_stats = vcf_stats.bcftools_stats
    }
}

task fastp_qc {
    input {
        String sample_id
        File fastq_r1
        File fastq_r2
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\$" >&2
            exit 2
        fi
        fastp --in1 "~{fastq_r1}" --in2 "~{fastq_r2}" \
            --out1 "$sample.trimmed_R1.fastq.gz" --out2 "$sample.trimmed_R2.fastq.gz" \
            --detect_adapter_for_pe --thread ~{cpu} \
            --json "$sample.fastp.json" --html "$sample.fastp.html" \
            --report_title "$sample"
    >>>

    output {
        File trimmed_r1 = "~{sample_id}.trimmed_R1.fastq.gz"
        File trimmed_r2 = "~{sample_id}.trimmed_R2.fastq.gz"
        File json = "~{sample_id}.fastp.json"
        File html = "~{sample_id}.fastp.html"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task align {
    input {
        String sample_id
        File fastq_r1
        File fastq_r2
        File reference_fasta
        File reference_fai
        File reference_amb
        File reference_ann
        File reference_bwt
        File reference_pac
        File reference_sa
        File? reference_mmi
        String aligner
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])
    # only these literals ever reach the command line
    String aligner_checked = if aligner == "bwa" then "bwa" else if aligner == "minimap2" then "minimap2" else "invalid"

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\$" >&2
            exit 2
        fi
        if [ "~{aligner_checked}" = invalid ]; then
            echo "aligner must be bwa or minimap2" >&2
            exit 2
        fi

        # both aligners look for their index beside the FASTA, but the engine may localise
        # each input file in a directory of its own: put them side by side under one name
        mkdir -p ref tmp
        ln -s "~{reference_fasta}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{reference_amb}" ref/genome.fa.amb
        ln -s "~{reference_ann}" ref/genome.fa.ann
        ln -s "~{reference_bwt}" ref/genome.fa.bwt
        ln -s "~{reference_pac}" ref/genome.fa.pac
        ln -s "~{reference_sa}" ref/genome.fa.sa
        mmi="~{default='' reference_mmi}"
        read_group="@RG\tID:$sample\tSM:$sample\tPL:ILLUMINA\tLB:$sample"

        if [ "~{aligner_checked}" = bwa ]; then
            bwa mem -t ~{cpu} -R "$read_group" ref/genome.fa "~{fastq_r1}" "~{fastq_r2}"
        else
            minimap2 -ax sr -t ~{cpu} -R "$read_group" "${mmi:-ref/genome.fa}" "~{fastq_r1}" "~{fastq_r2}"
        fi \
            | samtools fixmate -m -u - - \
            | samtools sort -u -@ ~{cpu} -T tmp/sort - \
            | samtools markdup -@ ~{cpu} --write-index -f "$sample.markdup.txt" \
                -T tmp/markdup - "$sample.bam##idx##$sample.bam.bai"
    >>>

    output {
        File bam = "~{sample_id}.bam"
        File bai = "~{sample_id}.bam.bai"
        File markdup_metrics = "~{sample_id}.markdup.txt"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task call_variants {
    input {
        String sample_id
        File bam
        File bai
        File reference_fasta
        File reference_fai
        Int ploidy
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\$" >&2
            exit 2
        fi
        case ~{ploidy} in 1|2) ;; *) echo "ploidy must be 1 or 2, got: ~{ploidy}" >&2; exit 2 ;; esac
        mkdir -p ref aln
        ln -s "~{reference_fasta}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{bam}" aln/sample.bam
        ln -s "~{bai}" aln/sample.bam.bai

        # duplicates are marked upstream; mpileup skips them by default (flag 1024)
        bcftools mpileup --threads ~{cpu} -f ref/genome.fa --max-depth 1000 -a FORMAT/AD,FORMAT/DP,INFO/AD -Ou aln/sample.bam \
            | bcftools call --threads ~{cpu} -m -v --ploidy ~{ploidy} -Ou \
            | bcftools norm --threads ~{cpu} -f ref/genome.fa -m -any -Oz -o "$sample.vcf.gz"
        bcftools index --tbi "$sample.vcf.gz"
    >>>

    output {
        File vcf = "~{sample_id}.vcf.gz"
        File vcf_index = "~{sample_id}.vcf.gz.tbi"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}

task bam_stats {
    input {
        String sample_id
        File bam
        File bai
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p aln
        ln -s "~{bam}" aln/sample.bam
        ln -s "~{bai}" aln/sample.bam.bai
        samtools flagstat -@ ~{cpu} -O json aln/sample.bam > "$sample.flagstat.json"
        samtools coverage aln/sample.bam > "$sample.coverage.tsv"
        samtools stats -@ ~{cpu} aln/sample.bam > "$sample.samtools_stats.txt"
    >>>

    output {
        File flagstat_json = "~{sample_id}.flagstat.json"
        File coverage = "~{sample_id}.coverage.tsv"
        File samtools_stats = "~{sample_id}.samtools_stats.txt"
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
        File vcf
        File vcf_index
        File reference_fasta
        File reference_fai
        String docker_image
        Int cpu
        Int memory_gb
    }
    File sample_id_file = write_lines([sample_id])

    command <<<
        set -euo pipefail
        sample=$(head -n 1 "~{sample_id_file}")
        if ! [[ "$sample" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$ ]]; then
            echo "sample_id must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\$" >&2
            exit 2
        fi
        mkdir -p ref calls
        ln -s "~{reference_fasta}" ref/genome.fa
        ln -s "~{reference_fai}" ref/genome.fa.fai
        ln -s "~{vcf}" calls/sample.vcf.gz
        ln -s "~{vcf_index}" calls/sample.vcf.gz.tbi
        bcftools stats --threads ~{cpu} -F ref/genome.fa -s - calls/sample.vcf.gz > "$sample.bcftools_stats.txt"
    >>>

    output {
        File bcftools_stats = "~{sample_id}.bcftools_stats.txt"
    }

    runtime {
        docker: docker_image
        cpu: cpu
        memory: "~{memory_gb} GiB"
    }
}
