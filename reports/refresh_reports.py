"""Re-run every committed report that a replaced shipped model produced.

When new weights are copied into ``trained_models/<name>/``, the reports under
``reports/`` that the old weights made go stale. Each report's ``evaluation.json``
keeps the exact command line that wrote it and the SHA-256 of the weights it used
(``model.weights_sha256``), so the stale ones can be found and re-run, not re-typed.

A report is stale when

* the model folder it read (``model.folder``) is a stage folder of the shipped model
  (``trained_models/<name>/vae`` or ``.../deblender``),
* its recorded weights equal that stage's weights in the *previous* model, read from
  ``trained_models/<name>/SHA256SUMS`` at a git revision (``--previous``, default
  ``HEAD``: the commit before the new weights land), and
* those weights differ from the files now in the folder.

Reports made with even older weights (experiments that recorded a decision) are left
alone, and so are reports of the stages that did not change. Before re-running a
report, the data set it read must exist and hash (``Manifest.content_sha256``) to the
value the report recorded; otherwise the script stops and says which command
regenerates it (``make test-sets``, ``make demo``, ...). Re-runs add ``--overwrite``.

Usage (from the repository root, after copying the new weights and before committing)::

    python reports/refresh_reports.py --model analytic --dry-run
    python reports/refresh_reports.py --model analytic

It prints, for every re-run report, the std, median bias and sigma_MAD of the
normalised flux residuals of the ``ours`` row (stamp flux) before and after.

``predictions.csv`` is git-ignored, so ``git checkout -- reports`` (restoring the
committed reports after a candidate failed its test-set gate) leaves the candidate's
per-example tables beside the restored ``metrics.csv``. ``--stale-predictions`` lists
every ``predictions.csv`` whose residuals do not reproduce the std and count of its
report's ``ours`` stamp-flux row, and ``--stale-predictions --delete`` removes them
(``evaluate`` with the command line in ``evaluation.json`` writes them again)::

    python reports/refresh_reports.py --stale-predictions [--delete]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("refresh_reports")

REPO = Path(__file__).resolve().parent.parent
WEIGHT_FILES = ("encoder.h5", "decoder.h5")


@dataclass(frozen=True)
class StaleReport:
    """A report written by weights that have since been replaced.

    Attributes
    ----------
    folder : pathlib.Path
        The report folder (holds ``evaluation.json``).
    command_line : list of str
        The command that wrote it, ``--overwrite`` included.
    stage : str
        ``"vae"`` or ``"deblender"``.
    data_folder : pathlib.Path
        The data set it read.
    data_content_sha256 : str or None
        The data set's content hash as recorded (None in old reports).
    """

    folder: Path
    command_line: list[str]
    stage: str
    data_folder: Path
    data_content_sha256: str | None


def parse_sha256sums(text: str) -> dict[str, str]:
    """``{relative path: sha256}`` from the text of a ``SHA256SUMS`` file (``./`` dropped)."""
    sums = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        sums[name.strip().removeprefix("./")] = digest
    return sums


def previous_sums(model_dir: Path, revision: str) -> dict[str, str]:
    """The model's ``SHA256SUMS`` at git ``revision``, parsed."""
    relative = (model_dir / "SHA256SUMS").resolve().relative_to(REPO)
    try:
        text = subprocess.run(
            ["git", "show", f"{revision}:{relative.as_posix()}"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"cannot read {relative} at git revision {revision!r}: {error.stderr.strip()}"
        ) from error
    return parse_sha256sums(text)


def find_stale_reports(
    reports_dir: Path,
    model_dir: Path,
    old_sums: dict[str, str],
    new_sums: dict[str, str],
) -> list[StaleReport]:
    """Reports under ``reports_dir`` made by ``model_dir``'s previous weights.

    Parameters
    ----------
    reports_dir : pathlib.Path
        Searched recursively for ``evaluation.json``.
    model_dir : pathlib.Path
        The shipped model folder (``trained_models/<name>``).
    old_sums, new_sums : dict
        ``{"<stage>/<file>": sha256}`` of the previous and the current weights.

    Returns
    -------
    list of StaleReport
        Sorted by report folder.
    """
    stale = []
    for path in sorted(reports_dir.rglob("evaluation.json")):
        record = json.loads(path.read_text())
        model = record.get("model", {})
        weights = model.get("weights_sha256")
        folder = Path(model.get("folder", ""))
        shipped_stage = (
            folder.name in ("vae", "deblender")
            and folder.parent.name == model_dir.name
            and folder.parent.parent.name == model_dir.parent.name
        )
        if not weights or not shipped_stage:
            continue
        stage = folder.name
        old = {name: old_sums.get(f"{stage}/{name}") for name in WEIGHT_FILES}
        new = {name: new_sums.get(f"{stage}/{name}") for name in WEIGHT_FILES}
        if {name: weights.get(name) for name in WEIGHT_FILES} != old or old == new:
            continue
        command = list(record["command_line"])
        if "--overwrite" not in command:
            command.append("--overwrite")
        data = record.get("data", {})
        data_folder = Path(command[command.index("--data") + 1])
        stale.append(
            StaleReport(
                folder=path.parent,
                command_line=command,
                stage=stage,
                data_folder=data_folder,
                data_content_sha256=data.get("content_sha256"),
            )
        )
    return stale


def check_data(report: StaleReport) -> str | None:
    """None when the report's data set is present and unchanged; else what is wrong."""
    from data_generation.manifest import load_manifest

    folder = REPO / report.data_folder
    try:
        manifest = load_manifest(folder)
    except (FileNotFoundError, ValueError) as error:
        return f"{report.data_folder}: {error}"
    if report.data_content_sha256 and manifest.content_sha256() != report.data_content_sha256:
        return (
            f"{report.data_folder} holds other data than the report read (content SHA-256 "
            f"{manifest.content_sha256()[:12]}..., recorded {report.data_content_sha256[:12]}...)"
        )
    return None


def _ours_stamp_row(report_folder: Path) -> dict[str, str] | None:
    """The ``ours`` stamp-flux row of ``metrics.csv`` as read; None if absent."""
    path = report_folder / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["method"] == "ours" and row["flux_true"] == "stamp":
                return row
    return None


def ours_row(report_folder: Path) -> tuple[float, float, float] | None:
    """(std, median bias, sigma_MAD) of the ``ours`` stamp-flux row, in %; None if absent."""
    row = _ours_stamp_row(report_folder)
    if row is None:
        return None
    return tuple(100 * float(row[key]) for key in ("std", "bias", "sigma_mad"))


def predictions_disagree(report_folder: Path) -> str | None:
    """Why ``predictions.csv`` was not written with the report's ``metrics.csv``; else None.

    The ``ours`` stamp-flux row of ``metrics.csv`` holds
    :func:`debvader_euclid.metrics.summary_statistics` of the ``residual`` column of
    ``predictions.csv``; a table written by another model or data set reproduces
    neither its count ``n`` nor its std (to 1e-9, relative).

    Parameters
    ----------
    report_folder : pathlib.Path
        A report folder holding ``predictions.csv``.

    Returns
    -------
    str or None
        What differs, or None when the two agree (or ``metrics.csv`` has no ``ours`` row).
    """
    import math

    import pandas as pd

    from debvader_euclid.metrics import summary_statistics

    if not (report_folder / "metrics.csv").is_file():
        return "no metrics.csv beside it"
    row = _ours_stamp_row(report_folder)
    if row is None:
        return None
    residual = pd.read_csv(report_folder / "predictions.csv", usecols=["residual"])["residual"]
    stats = summary_statistics(residual.to_numpy(dtype=float))
    expected_std, expected_n = float(row["std"]), int(row["n"])
    if stats["n"] != expected_n:
        return f"{stats['n']} finite residuals, metrics.csv counts {expected_n}"
    if not math.isclose(stats["std"], expected_std, rel_tol=1e-9):
        return f"residual std {100 * stats['std']:.4f} %, metrics.csv {100 * expected_std:.4f} %"
    return None


def find_stale_predictions(reports_dir: Path) -> list[tuple[Path, str]]:
    """``(report folder, what differs)`` for every disagreeing ``predictions.csv``, sorted."""
    stale = []
    for path in sorted(reports_dir.rglob("predictions.csv")):
        reason = predictions_disagree(path.parent)
        if reason is not None:
            stale.append((path.parent, reason))
    return stale


def _format(row: tuple[float, float, float] | None) -> str:
    if row is None:
        return "-"
    std, bias, sigma_mad = row
    return f"{std:.2f} / {bias:+.2f} / {sigma_mad:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="shipped model name, e.g. analytic")
    parser.add_argument(
        "--previous", default="HEAD", help="git revision holding the replaced weights"
    )
    parser.add_argument("--reports", default="reports", help="folder searched for reports")
    parser.add_argument("--dry-run", action="store_true", help="list the commands only")
    parser.add_argument(
        "--stale-predictions",
        action="store_true",
        help="list the predictions.csv that disagree with their report's metrics.csv",
    )
    parser.add_argument(
        "--delete", action="store_true", help="with --stale-predictions: remove them"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.delete and not args.stale_predictions:
        parser.error("--delete only applies to --stale-predictions")
    if args.stale_predictions:
        if args.model or args.dry_run:
            parser.error("--stale-predictions takes neither --model nor --dry-run")
        stale_tables = find_stale_predictions(REPO / args.reports)
        for folder, reason in stale_tables:
            log.info("%s: %s", folder / "predictions.csv", reason)
            if args.delete:
                (folder / "predictions.csv").unlink()
        verb = "removed" if args.delete else "found"
        log.info("%s %d stale predictions.csv", verb, len(stale_tables))
        return 0
    if not args.model:
        parser.error("--model is required (or --stale-predictions)")

    model_dir = REPO / "trained_models" / args.model
    if not model_dir.is_dir():
        raise SystemExit(f"no shipped model folder {model_dir}")
    new_sums = parse_sha256sums((model_dir / "SHA256SUMS").read_text())
    old_sums = previous_sums(model_dir, args.previous)
    stale = find_stale_reports(REPO / args.reports, model_dir, old_sums, new_sums)
    if not stale:
        log.info("no report was made by the weights of %s at %s", args.model, args.previous)
        return 0
    problems = [problem for report in stale if (problem := check_data(report))]
    if problems:
        raise SystemExit(
            "regenerate these data sets first (make test-sets, make demo, or the "
            "`generate` line in the data set's manifest):\n  " + "\n  ".join(sorted(set(problems)))
        )
    executable = Path(sys.executable).parent / "debvader-euclid"
    rows = []
    for number, report in enumerate(stale, 1):
        log.info("[%d/%d] %s", number, len(stale), " ".join(report.command_line))
        if args.dry_run:
            continue
        before = ours_row(report.folder)
        subprocess.run([str(executable), *report.command_line[1:]], cwd=REPO, check=True)
        rows.append((report.folder.relative_to(REPO), before, ours_row(report.folder)))
    if rows:
        print("| report | before: std / bias / sigma_MAD (%) | after |")
        print("|---|---|---|")
        for folder, before, after in rows:
            print(f"| {folder} | {_format(before)} | {_format(after)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
