"""The local DataSync stand-in: filters, incremental atomic verified copies, flags last."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from seqflow import transfer
from seqflow.transfer import (
    MANIFEST_NAME,
    TransferError,
    TransferFilterError,
    TransferSourceChangedError,
    TransferVerificationError,
    build_include_filter,
    parse_include_filter,
    transfer_runs,
)

RUN_A = "241120_A01234_0042_AHXXXXXDSX"
RUN_B = "241120_M01234_0007_000000000-ABCDE"
RUN_C = "241121_A01234_0043_BHYYYYYDSX"

RUN_FILES = {
    "RunInfo.xml": b"<RunInfo/>",
    "SampleSheet.csv": b"[Data]\nSample_ID\nS1\n",
    "Data/Intensities/BaseCalls/L001/s_1_1101.cbcl": b"\x00\x01" * 5000,
    "Analysis/1/Data/fastq/S1_S1_L001_R1_001.fastq.gz": b"R1" * 100,
    "Analysis/1/Data/fastq/S1_S1_L001_R2_001.fastq.gz": b"R2" * 100,
    "RTAComplete.txt": b"",
    "CopyComplete.txt": b"",
}


def make_run(root: Path, name: str, files: dict[str, bytes] = RUN_FILES) -> Path:
    run = root / name
    for rel, content in files.items():
        path = run / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return run


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def share(tmp_path):
    source = tmp_path / "landing"
    for name in (RUN_A, RUN_B, RUN_C):
        make_run(source, name)
    return source


# --- include filters ----------------------------------------------------------


def test_build_and_parse_include_filter():
    value = build_include_filter([RUN_A, RUN_B, RUN_A])
    assert value == f"/{RUN_A}|/{RUN_B}"
    assert parse_include_filter(value) == [f"/{RUN_A}", f"/{RUN_B}"]
    assert parse_include_filter("/241120_*") == ["/241120_*"]


@pytest.mark.parametrize("names", [[], ["../etc"], [RUN_A, "a/b"], ["241120_*"]])
def test_build_include_filter_rejects_bad_names(names):
    with pytest.raises(TransferFilterError):
        build_include_filter(names)


def test_build_include_filter_rejects_a_bare_string():
    with pytest.raises(TransferFilterError, match="not a string"):
        build_include_filter(RUN_A)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        (f"{RUN_A}", "invalid"),  # not anchored at the root
        (f"/{RUN_A}/Data", "invalid"),  # below run level
        ("/..", "'..'"),
        (f"/{RUN_A}|/../x", "'..'"),
        (f"/{RUN_A}|", "invalid"),
        ("/.hidden", "invalid"),
        ("/a b", "invalid"),
        ("/[ab]", "invalid"),
    ],
)
def test_parse_include_filter_rejects(value, message):
    with pytest.raises(TransferFilterError, match=message):
        parse_include_filter(value)


def test_include_filter_selects_only_matching_runs(share, tmp_path):
    dest = tmp_path / "raw"
    (share / "241120_notarun").mkdir()  # matches the pattern, not a run folder
    (share / ".241120_A01234_0099_AHIDDENDSX").mkdir()  # hidden: never selected
    report = transfer_runs(share, dest, "/241120_*")
    assert report.run_ids == [RUN_A, RUN_B]
    assert sorted(p.name for p in dest.iterdir()) == [RUN_A, RUN_B]

    dest2 = tmp_path / "raw2"
    report = transfer_runs(share, dest2, build_include_filter([RUN_C]))
    assert report.run_ids == [RUN_C]
    assert [p.name for p in dest2.iterdir()] == [RUN_C]

    # a list of patterns works the same as the "|"-joined value
    dest3 = tmp_path / "raw3"
    assert transfer_runs(share, dest3, [f"/{RUN_B}", f"/{RUN_C}"]).run_ids == [RUN_B, RUN_C]

    report = transfer_runs(share, tmp_path / "raw4", "/991231_*")
    assert report.runs == []
    assert "no run folder matched" in report.summary()
    assert not (tmp_path / "raw4").exists()


# --- copying -------------------------------------------------------------------


def test_copy_content_manifest_and_report(share, tmp_path):
    dest = tmp_path / "raw"
    lines: list[str] = []
    report = transfer_runs(share, dest, f"/{RUN_A}", progress=lines.append)
    run = report.run(RUN_A)
    assert run.files_copied == len(RUN_FILES)
    assert run.files_skipped == 0
    assert run.bytes_copied == sum(len(c) for c in RUN_FILES.values())
    assert run.verified and run.complete
    copied = tree(dest / RUN_A)
    manifest = json.loads(copied.pop(MANIFEST_NAME))
    assert copied == RUN_FILES
    assert manifest["run_id"] == RUN_A
    assert [e["path"] for e in manifest["files"]] == sorted(RUN_FILES)
    for entry in manifest["files"]:
        content = RUN_FILES[entry["path"]]
        assert entry["size"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
    # mtimes are kept, so the next transfer's quick check can match
    src = share / RUN_A / "RunInfo.xml"
    assert (dest / RUN_A / "RunInfo.xml").stat().st_mtime_ns == src.stat().st_mtime_ns
    assert f"copied {RUN_A}/RunInfo.xml (10 bytes)" in lines
    assert RUN_A in report.summary() and "7 file(s) copied" in report.summary()
    assert not any(p.name.startswith(".tmp-") for p in (dest / RUN_A).rglob("*"))


def test_second_transfer_is_incremental(share, tmp_path):
    dest = tmp_path / "raw"
    transfer_runs(share, dest, f"/{RUN_A}")
    report = transfer_runs(share, dest, f"/{RUN_A}")
    assert (report.files_copied, report.files_skipped, report.bytes_copied) == (0, len(RUN_FILES), 0)
    report = transfer_runs(share, dest, f"/{RUN_A}", verify=False)
    assert report.files_copied == 0
    assert report.runs[0].verified is False

    # a new file and a changed file are copied, nothing else
    (share / RUN_A / "Logs").mkdir()
    (share / RUN_A / "Logs" / "new.log").write_bytes(b"new")
    (share / RUN_A / "RunInfo.xml").write_bytes(b"<RunInfo v='2'/>")
    report = transfer_runs(share, dest, f"/{RUN_A}")
    run = report.run(RUN_A)
    # the two completion flags are withdrawn and copied again after the data
    assert run.files_copied == 4
    assert (dest / RUN_A / "Logs" / "new.log").read_bytes() == b"new"
    assert (dest / RUN_A / "RunInfo.xml").read_bytes() == b"<RunInfo v='2'/>"
    assert len(json.loads((dest / RUN_A / MANIFEST_NAME).read_text())["files"]) == len(RUN_FILES) + 1


def test_existing_copy_without_manifest_is_adopted_by_checksum(share, tmp_path):
    dest = tmp_path / "raw"
    transfer_runs(share, dest, f"/{RUN_A}")
    (dest / RUN_A / MANIFEST_NAME).unlink()
    report = transfer_runs(share, dest, f"/{RUN_A}")
    assert report.files_copied == 0
    assert (dest / RUN_A / MANIFEST_NAME).is_file()


def test_corrupted_destination_copy_is_detected_and_repaired(share, tmp_path):
    dest = tmp_path / "raw"
    transfer_runs(share, dest, f"/{RUN_A}")
    target = dest / RUN_A / "Analysis/1/Data/fastq/S1_S1_L001_R1_001.fastq.gz"
    stat = target.stat()
    target.write_bytes(b"XX" * 100)  # same size, same mtime: only the checksum can tell
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    lines: list[str] = []
    report = transfer_runs(share, dest, f"/{RUN_A}", progress=lines.append)
    assert f"copied {RUN_A}/Analysis/1/Data/fastq/S1_S1_L001_R1_001.fastq.gz (200 bytes)" in lines
    assert target.read_bytes() == b"R1" * 100
    assert report.run(RUN_A).verified


def test_corruption_during_copy_raises_naming_the_file(share, tmp_path, monkeypatch):
    real_copy = transfer._copy_stream

    def corrupting_copy(source, destination):
        sha = real_copy(source, destination)
        if destination.name.split(".tmp-seqflow-")[-1].startswith("SampleSheet.csv"):
            destination.seek(0)
            destination.write(b"!")
        return sha

    monkeypatch.setattr(transfer, "_copy_stream", corrupting_copy)
    dest = tmp_path / "raw"
    with pytest.raises(TransferVerificationError) as excinfo:
        transfer_runs(share, dest, f"/{RUN_A}")
    assert f"{RUN_A}/SampleSheet.csv" in str(excinfo.value)
    assert "checksum mismatch" in str(excinfo.value)
    # the corrupt copy never got its final name, nor left a temp file; no flag either
    run_dest = dest / RUN_A
    assert not (run_dest / "SampleSheet.csv").exists()
    assert not [p for p in run_dest.rglob("*") if p.name.startswith(".tmp-")]
    assert not (run_dest / "CopyComplete.txt").exists()
    assert not (run_dest / "RTAComplete.txt").exists()


def test_without_verify_the_copy_is_not_rechecked(share, tmp_path, monkeypatch):
    calls: list[Path] = []
    real_sha = transfer._sha256_file
    monkeypatch.setattr(transfer, "_sha256_file", lambda p: calls.append(p) or real_sha(p))
    report = transfer_runs(share, tmp_path / "raw", f"/{RUN_A}", verify=False)
    assert report.files_copied == len(RUN_FILES)
    assert calls == []


def test_completion_flags_are_copied_last(share, tmp_path):
    lines: list[str] = []
    transfer_runs(share, tmp_path / "raw", f"/{RUN_A}", progress=lines.append)
    copied = [line.split()[1].split("/", 1)[1] for line in lines if line.startswith("copied ")]
    assert len(copied) == len(RUN_FILES)
    # in the order of preference of the flags, after every data file
    assert copied[-2:] == ["CopyComplete.txt", "RTAComplete.txt"]
    # and the flag files are the newest files of the destination run folder
    run_dest = tmp_path / "raw" / RUN_A
    data_mtimes = [(run_dest / rel).stat().st_ctime_ns for rel in copied[:-2]]
    assert max(data_mtimes) <= (run_dest / "CopyComplete.txt").stat().st_ctime_ns


def test_configurable_flags(share, tmp_path):
    (share / RUN_A / "QAComplete.txt").write_bytes(b"")
    lines: list[str] = []
    report = transfer_runs(share, tmp_path / "raw", f"/{RUN_A}", flags=("QAComplete.txt",), progress=lines.append)
    copied = [line for line in lines if line.startswith("copied ")]
    assert copied[-1] == f"copied {RUN_A}/QAComplete.txt (0 bytes)"
    assert report.run(RUN_A).complete


def test_run_without_flag_is_reported_incomplete(tmp_path):
    files = {k: v for k, v in RUN_FILES.items() if not k.endswith("Complete.txt")}
    make_run(tmp_path / "src", RUN_A, files)
    report = transfer_runs(tmp_path / "src", tmp_path / "raw", f"/{RUN_A}")
    assert report.run(RUN_A).complete is False
    assert "no completion flag" in report.summary()


def test_failure_mid_run_leaves_no_temp_file_and_no_flag(share, tmp_path, monkeypatch):
    real_copy = transfer._copy_stream
    count = {"n": 0}

    def failing_copy(source, destination):
        count["n"] += 1
        if count["n"] == 3:
            destination.write(b"partial")
            raise OSError("disk full")
        return real_copy(source, destination)

    monkeypatch.setattr(transfer, "_copy_stream", failing_copy)
    dest = tmp_path / "raw"
    with pytest.raises(OSError, match="disk full"):
        transfer_runs(share, dest, f"/{RUN_A}")
    run_dest = dest / RUN_A
    names = [p.name for p in run_dest.rglob("*") if p.is_file()]
    assert len(names) == 2
    assert not [n for n in names if n.startswith(".tmp-") or n.endswith("Complete.txt")]
    # a retry picks up where the failed one stopped
    monkeypatch.setattr(transfer, "_copy_stream", real_copy)
    report = transfer_runs(share, dest, f"/{RUN_A}")
    assert (report.files_copied, report.files_skipped) == (len(RUN_FILES) - 2, 2)
    assert tree(run_dest).keys() == {*RUN_FILES, MANIFEST_NAME}


def test_source_changing_during_copy_is_an_error(share, tmp_path, monkeypatch):
    real_copy = transfer._copy_stream

    def growing_copy(source, destination):
        sha = real_copy(source, destination)
        if source.name.endswith("RunInfo.xml"):
            with open(source.name, "ab") as handle:
                handle.write(b"more")
        return sha

    monkeypatch.setattr(transfer, "_copy_stream", growing_copy)
    with pytest.raises(TransferError, match="changed while it was being copied"):
        transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")
    assert not [p for p in (tmp_path / "raw").rglob(".tmp-*")]


# --- refusing what could escape ---------------------------------------------------


def test_symlink_escaping_the_source_root_is_refused(share, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (share / RUN_A / "Data" / "leak.txt").symlink_to(secret)
    dest = tmp_path / "raw"
    with pytest.raises(TransferError, match=r"refusing symlink .*Data/leak.txt .*outside the source root"):
        transfer_runs(share, dest, f"/{RUN_A}")
    # refused before anything of the run was copied
    assert not (dest / RUN_A / "RunInfo.xml").exists()
    assert not any(p.name == "leak.txt" for p in dest.rglob("*"))


def test_symlinked_directory_escaping_the_source_root_is_refused(share, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("x")
    (share / RUN_A / "Extra").symlink_to(outside)
    with pytest.raises(TransferError, match="outside the source root"):
        transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")


def test_run_folder_symlink_escaping_the_root_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_run(tmp_path / "elsewhere", RUN_A)
    (src / RUN_A).symlink_to(tmp_path / "elsewhere" / RUN_A)
    with pytest.raises(TransferError, match="refusing symlink"):
        transfer_runs(src, tmp_path / "raw", f"/{RUN_A}")


def test_symlink_inside_the_source_root_is_refused_too(share, tmp_path):
    # links are never followed (DataSync does not follow them either), wherever they point
    (share / RUN_A / "SampleSheet_copy.csv").symlink_to(share / RUN_A / "SampleSheet.csv")
    with pytest.raises(TransferError, match=r"refusing symlink .*SampleSheet_copy.csv -> .*inside the source root"):
        transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")
    assert not (tmp_path / "raw" / RUN_A / "RunInfo.xml").exists()


def test_symlink_loop_is_refused(share, tmp_path):
    (share / RUN_A / "Data" / "loop").symlink_to(share / RUN_A / "Data")
    with pytest.raises(TransferError, match=r"refusing symlink .*Data/loop"):
        transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")


def test_run_folder_symlink_inside_the_root_is_refused(tmp_path):
    src = tmp_path / "src"
    make_run(src / "archive", RUN_A)
    (src / RUN_A).symlink_to(src / "archive" / RUN_A)
    with pytest.raises(TransferError, match=r"refusing symlink .*inside the source root"):
        transfer_runs(src, tmp_path / "raw", f"/{RUN_A}")
    assert not (tmp_path / "raw" / RUN_A).exists()


def test_destination_symlink_escaping_dest_root_is_refused(share, tmp_path):
    dest = tmp_path / "raw"
    outside = tmp_path / "outside"
    (dest / RUN_A).mkdir(parents=True)
    outside.mkdir()
    (dest / RUN_A / "Data").symlink_to(outside)
    with pytest.raises(TransferError, match="outside"):
        transfer_runs(share, dest, f"/{RUN_A}")
    assert list(outside.iterdir()) == []


def test_own_bookkeeping_files_in_the_source_are_not_copied(share, tmp_path):
    (share / RUN_A / MANIFEST_NAME).write_text("{}")
    (share / RUN_A / ".tmp-seqflow-RunInfo.xml.abcd").write_text("half")
    transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")
    manifest = json.loads((tmp_path / "raw" / RUN_A / MANIFEST_NAME).read_text())
    assert sorted(e["path"] for e in manifest["files"]) == sorted(RUN_FILES)


def test_missing_source_root(tmp_path):
    with pytest.raises(TransferError, match="does not exist"):
        transfer_runs(tmp_path / "nope", tmp_path / "raw", f"/{RUN_A}")


def test_bad_include_is_rejected_before_anything_happens(share, tmp_path):
    with pytest.raises(TransferFilterError):
        transfer_runs(share, tmp_path / "raw", ["/../etc"])
    with pytest.raises(TransferFilterError):
        transfer_runs(share, tmp_path / "raw", [])
    assert not (tmp_path / "raw").exists()


# --- a share that changes under the transfer ----------------------------------------

SECRET = b"root:x:0:0:root:/root:/bin/bash\n"  # what /etc/passwd looks like


def after_listing(monkeypatch, action):
    """Run ``action()`` once, between the listing of the run folder and the first copy."""
    real_list = transfer._list_run_files

    def listing_then_action(*args, **kwargs):
        listing = real_list(*args, **kwargs)
        action()
        return listing

    monkeypatch.setattr(transfer, "_list_run_files", listing_then_action)


def assert_secret_never_landed(dest: Path) -> None:
    # every file, temp files included
    landed = [p for p in dest.rglob("*") if p.is_file() and SECRET in p.read_bytes()]
    assert landed == []


def assert_no_flag(run_dest: Path) -> None:
    assert not (run_dest / "CopyComplete.txt").exists()
    assert not (run_dest / "RTAComplete.txt").exists()


@pytest.fixture
def secret(tmp_path) -> Path:
    outside = tmp_path / "etc" / "passwd"
    outside.parent.mkdir()
    outside.write_bytes(SECRET)
    return outside


def test_file_swapped_for_a_symlink_after_listing_is_not_copied(share, tmp_path, secret, monkeypatch):
    sheet = share / RUN_A / "SampleSheet.csv"

    def swap():
        sheet.unlink()
        sheet.symlink_to(secret)

    after_listing(monkeypatch, swap)
    dest = tmp_path / "raw"
    with pytest.raises(TransferSourceChangedError) as excinfo:
        transfer_runs(share, dest, f"/{RUN_A}")
    assert str(excinfo.value).startswith(f"{RUN_A}/SampleSheet.csv was replaced by a symlink -> {secret}")
    assert (excinfo.value.run_id, excinfo.value.path) == (RUN_A, "SampleSheet.csv")
    assert not (dest / RUN_A / "SampleSheet.csv").exists()
    assert_secret_never_landed(dest)
    assert_no_flag(dest / RUN_A)


def test_file_swapped_for_a_symlink_between_check_and_open_is_not_followed(share, tmp_path, secret, monkeypatch):
    # the race the pre-open check cannot close: O_NOFOLLOW on the open itself does
    sheet = share / RUN_A / "SampleSheet.csv"
    real_check = transfer._SourceTree.check
    swapped = []

    def check_then_swap(self, source, now):
        real_check(self, source, now)
        if source.rel == "SampleSheet.csv" and not swapped:
            sheet.unlink()
            sheet.symlink_to(secret)
            swapped.append(True)

    monkeypatch.setattr(transfer._SourceTree, "check", check_then_swap)
    dest = tmp_path / "raw"
    with pytest.raises(TransferSourceChangedError, match=rf"{RUN_A}/SampleSheet.csv was replaced by a symlink"):
        transfer_runs(share, dest, f"/{RUN_A}")
    assert swapped
    assert_secret_never_landed(dest)
    assert_no_flag(dest / RUN_A)


@pytest.mark.parametrize(
    "folder", ["Analysis", "Analysis/1/Data/fastq", ""], ids=["top folder", "deep folder", "run folder"]
)
def test_folder_swapped_for_a_symlink_after_listing_is_not_followed(share, tmp_path, folder, monkeypatch):
    # a look-alike tree outside the share, with the same names
    decoy = tmp_path / "decoy"
    for rel, content in RUN_FILES.items():
        if rel.startswith(folder):
            fake = decoy / rel[len(folder):].lstrip("/")
            fake.parent.mkdir(parents=True, exist_ok=True)
            fake.write_bytes(SECRET.ljust(len(content), b"x")[: max(len(content), len(SECRET))])
    real = share / RUN_A / folder if folder else share / RUN_A

    def swap():
        real.rename(real.with_name(real.name + ".moved"))
        real.symlink_to(decoy)

    after_listing(monkeypatch, swap)
    dest = tmp_path / "raw"
    with pytest.raises(TransferSourceChangedError) as excinfo:
        transfer_runs(share, dest, f"/{RUN_A}")
    where = f"{RUN_A}/{folder}" if folder else RUN_A
    assert str(excinfo.value).startswith(f"{where} (a folder) was replaced by a symlink -> {decoy}")
    assert excinfo.value.path == folder
    assert_secret_never_landed(dest)
    assert_no_flag(dest / RUN_A)


def test_folder_replaced_by_another_folder_after_listing_is_an_error(share, tmp_path, monkeypatch):
    fastq = share / RUN_A / "Analysis" / "1" / "Data" / "fastq"

    def swap():
        fastq.rename(fastq.with_name("fastq.old"))
        fastq.mkdir()
        for name in ("S1_S1_L001_R1_001.fastq.gz", "S1_S1_L001_R2_001.fastq.gz"):
            (fastq / name).write_bytes(b"??" * 100)

    after_listing(monkeypatch, swap)
    message = r"Analysis/1/Data/fastq \(a folder\) changed after the listing: is another folder"
    with pytest.raises(TransferSourceChangedError, match=message):
        transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("append", r"changed after it was listed \(size 10 -> 14 bytes; mtime"),
        ("rewrite", r"changed after it was listed \(mtime \d+ -> \d+ ns\)"),
        ("replace", r"changed after it was listed \(is another file \(device/inode"),
        ("fifo", r"changed after it was listed \(is now a FIFO\)"),
    ],
)
def test_file_changed_after_listing_is_an_error(share, tmp_path, change, message, monkeypatch):
    info = share / RUN_A / "RunInfo.xml"
    listed = info.stat()

    def modify():
        if change == "append":
            with open(info, "ab") as handle:
                handle.write(b"more")
            os.utime(info, ns=(listed.st_atime_ns, listed.st_mtime_ns + 1_000_000))
        elif change == "rewrite":  # same size, other content
            info.write_bytes(b"<RunInfo!>")
            os.utime(info, ns=(listed.st_atime_ns, listed.st_mtime_ns + 1_000_000))
        elif change == "replace":  # another file, same size and mtime: only the inode tells
            fresh = info.with_name("fresh")
            fresh.write_bytes(b"<RunInfx/>")
            os.utime(fresh, ns=(listed.st_atime_ns, listed.st_mtime_ns))
            os.replace(fresh, info)
        else:  # opening a FIFO without a writer would block the transfer forever
            info.unlink()
            os.mkfifo(info)

    after_listing(monkeypatch, modify)
    dest = tmp_path / "raw"
    expected = rf"^{RUN_A}/RunInfo.xml {message}.*; not copied\. Is the run still being written\?$"
    with pytest.raises(TransferSourceChangedError, match=expected):
        transfer_runs(share, dest, f"/{RUN_A}")
    assert not (dest / RUN_A / "RunInfo.xml").exists()
    assert not [p for p in dest.rglob(".tmp-*")]
    assert_no_flag(dest / RUN_A)


def test_unchanged_skip_check_reads_the_source_safely(share, tmp_path, secret, monkeypatch):
    # without a manifest, an existing copy is compared by hashing the source: that read is guarded too
    dest = tmp_path / "raw"
    transfer_runs(share, dest, f"/{RUN_A}")
    (dest / RUN_A / MANIFEST_NAME).unlink()
    sheet = share / RUN_A / "SampleSheet.csv"
    after_listing(monkeypatch, lambda: (sheet.unlink(), sheet.symlink_to(secret)))
    with pytest.raises(TransferSourceChangedError, match="SampleSheet.csv was replaced by a symlink"):
        transfer_runs(share, dest, f"/{RUN_A}")
    assert_secret_never_landed(dest)


def test_file_deleted_after_listing_is_reported_and_the_flags_withheld(share, tmp_path, monkeypatch):
    gone = "Analysis/1/Data/fastq/S1_S1_L001_R2_001.fastq.gz"
    after_listing(monkeypatch, lambda: (share / RUN_A / gone).unlink())
    dest = tmp_path / "raw"
    lines: list[str] = []
    report = transfer_runs(share, dest, f"/{RUN_A}", progress=lines.append)
    run = report.run(RUN_A)
    assert run.vanished == [gone]
    assert report.vanished == [f"{RUN_A}/{gone}"]
    assert run.files_copied == len(RUN_FILES) - 3  # neither the vanished file nor the two flags
    assert run.flags_withheld == ["CopyComplete.txt", "RTAComplete.txt"]
    assert run.complete is False
    assert_no_flag(dest / RUN_A)
    assert not (dest / RUN_A / gone).exists()
    manifest = json.loads((dest / RUN_A / MANIFEST_NAME).read_text())
    assert gone not in [e["path"] for e in manifest["files"]]
    summary = report.summary()
    assert "1 vanished from the share" in summary
    assert f"1 vanished from the share after the listing ({gone})" in summary
    assert "completion flag withheld" in summary and "no completion flag" in summary
    assert f"{RUN_A}/{gone} vanished from the share after the listing; not copied" in lines

    # the next transfer copies the share as it now is, flags included
    monkeypatch.undo()
    report = transfer_runs(share, dest, f"/{RUN_A}")
    run = report.run(RUN_A)
    assert (run.vanished, run.complete, run.files_copied) == ([], True, 2)


def test_folder_deleted_after_listing_is_reported(share, tmp_path, monkeypatch):
    import shutil

    after_listing(monkeypatch, lambda: shutil.rmtree(share / RUN_A / "Analysis"))
    report = transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")
    assert report.run(RUN_A).vanished == sorted(r for r in RUN_FILES if r.startswith("Analysis/"))
    assert report.run(RUN_A).complete is False


def test_files_no_longer_on_the_share_are_kept_in_raw_and_reported(share, tmp_path):
    dest = tmp_path / "raw"
    transfer_runs(share, dest, f"/{RUN_A}")
    removed = "Analysis/1/Data/fastq/S1_S1_L001_R1_001.fastq.gz"
    (share / RUN_A / removed).unlink()
    report = transfer_runs(share, dest, f"/{RUN_A}")
    run = report.run(RUN_A)
    # like DataSync's PreserveDeletedFiles=PRESERVE: nothing is deleted from raw storage
    assert (dest / RUN_A / removed).read_bytes() == RUN_FILES[removed]
    assert run.not_on_source == [removed]
    assert report.not_on_source == [f"{RUN_A}/{removed}"]
    assert run.vanished == [] and run.complete
    assert "1 only in raw storage (kept)" in report.summary()
    assert f"1 in raw storage but not on the share, kept ({removed})" in report.summary()
    manifest = json.loads((dest / RUN_A / MANIFEST_NAME).read_text())
    assert manifest["not_on_source"] == [removed]
    assert removed not in [e["path"] for e in manifest["files"]]


def test_special_files_on_the_share_are_not_copied_and_reported(share, tmp_path):
    os.mkfifo(share / RUN_A / "instrument.pipe")
    report = transfer_runs(share, tmp_path / "raw", f"/{RUN_A}")
    assert report.run(RUN_A).special_files == ["instrument.pipe"]
    assert not (tmp_path / "raw" / RUN_A / "instrument.pipe").exists()
    assert "1 special file(s) not copied (instrument.pipe)" in report.summary()


def test_temp_files_of_a_killed_attempt_are_swept_on_retry(share, tmp_path):
    import signal

    dest = tmp_path / "raw"
    pid = os.fork()
    if pid == 0:  # the attempt that gets killed half-way through its third file
        try:
            count = {"n": 0}
            real_copy = transfer._copy_stream

            def dying_copy(source, destination):
                count["n"] += 1
                if count["n"] == 3:
                    destination.write(b"half a file")
                    destination.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                return real_copy(source, destination)

            transfer._copy_stream = dying_copy
            transfer_runs(share, dest, f"/{RUN_A}")
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    run_dest = dest / RUN_A
    leftovers = sorted(p.relative_to(run_dest).as_posix() for p in run_dest.rglob(".tmp-seqflow-*"))
    assert len(leftovers) == 1 and (run_dest / leftovers[0]).read_bytes() == b"half a file"

    # names that only look like ours are user files and stay
    user_files = [".tmp-seqflow-notes.txt", ".tmp-seqflow-x.DEADBEEF", "notes.tmp", ".tmp-other.0123abcd"]
    for name in user_files:
        (run_dest / name).write_text("mine")
    (run_dest / ".tmp-seqflow-folder.0123abcd").mkdir()

    lines: list[str] = []
    report = transfer_runs(share, dest, f"/{RUN_A}", progress=lines.append)
    run = report.run(RUN_A)
    assert run.temp_files_removed == leftovers
    assert not (run_dest / leftovers[0]).exists()
    assert all((run_dest / name).read_text() == "mine" for name in user_files)
    assert (run_dest / ".tmp-seqflow-folder.0123abcd").is_dir()
    assert sorted(run.not_on_source) == sorted(user_files)
    assert run.complete and tree(run_dest).keys() == {*RUN_FILES, MANIFEST_NAME, *user_files}
    assert any("removed 1 leftover temp file(s)" in line for line in lines)
    assert "1 leftover temp file(s) of an earlier attempt removed" in report.summary()


def test_a_live_transfer_of_the_same_run_is_waited_for_not_swept(share, tmp_path):
    import fcntl
    import threading

    dest = tmp_path / "raw"
    run_dest = dest / RUN_A
    run_dest.mkdir(parents=True)
    live = run_dest / ".tmp-seqflow-RunInfo.xml.0123abcd"  # another transfer's copy in progress
    live.write_bytes(b"being written")
    holder = os.open(run_dest, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    waiting = threading.Event()
    result: dict = {}

    def progress(line: str) -> None:
        if "another transfer of this run is in progress" in line:
            waiting.set()

    thread = threading.Thread(
        target=lambda: result.update(report=transfer_runs(share, dest, f"/{RUN_A}", progress=progress))
    )
    thread.start()
    try:
        assert waiting.wait(10)
        assert live.read_bytes() == b"being written"
    finally:
        os.close(holder)  # the other transfer ends (here: is killed) and releases the folder
        thread.join(10)
    assert result["report"].run(RUN_A).temp_files_removed == [live.name]
    assert result["report"].run(RUN_A).complete
