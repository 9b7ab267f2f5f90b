"""A reproduce report as Markdown: the summary, the paper's figures beside ours, the claims."""

import json
import os

from keras_angular.report import format_number, markdown_table
from keras_angular.reproduce.verdicts import ALPHA
from keras_angular.run_config import json_values


def _cell(value, digits=2):
    return format_number(value, digits)


def _paper_cell(entry):
    text = _cell(entry["paper"], 4 if entry["paper_unit"] == "rad" else 2)
    if entry["paper_sd"] is not None:
        text += f" ± {_cell(entry['paper_sd'], 2)}"
    unit = entry["paper_unit"]
    if unit == "rad":
        text += f" rad = {_cell(entry['paper_in_our_units'], 1)}°"
    elif unit:
        text += f" {unit}"
    return text


def markdown_section(section):
    """One dataset's report section as Markdown lines."""
    lines = [
        f"## {section['dataset']}",
        "",
        f"Source `{section['source']}`: {section['train_images']} training / "
        f"{section['test_images']} test images; compared with the paper's "
        f"{section['paper_setting'] or '(no matching paper setting)'} figures.",
        "",
        markdown_table(section["summary"]),
        "",
    ]
    if section["paper_comparison"]:
        lines += [
            "### The paper's figures beside ours",
            "",
            f"Ours: mean ± SD over seeds on {section['dataset']}. A paper setting in "
            "*italics* is another dataset than ours (the paper gives that metric only there).",
            "",
            "| source | paper setting | row | metric | paper | ours |",
            "|---|---|---|---|---|---|",
        ]
        for e in section["paper_comparison"]:
            ours = "not measured" if e["ours_mean"] is None else _cell(e["ours_mean"])
            if e["ours_sd"] is not None:
                ours += f" ± {_cell(e['ours_sd'])}"
            where = e["setting"] or "not named"
            where = where if e["same_dataset"] else f"*{where}*"
            lines.append(
                f"| {e['source']} | {where} | {e['row']} | {e['metric']} | {_paper_cell(e)} "
                f"| {ours} |"
            )
        lines.append("")
    if section["claims"]:
        lines += [
            "### Claims",
            "",
            "Effect: our mean difference, signed so that > 0 is the paper's direction; SD: "
            "seed-to-seed SD pooled over both rows; p: two-sided Welch t-test. Held / did "
            f"not hold: p < {ALPHA} in / against the paper's direction; otherwise "
            "inconclusive (always with one seed); not checked: this scale does not train "
            "both rows of the claim.",
            "",
            "| claim | source | metric | paper effect | our effect | SD | effect / SD | p "
            "| verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in section["claims"]:
            paper = "; ".join(
                f"{_cell(e['effect'])} ({e['setting'] or 'dataset not named'})" for e in c["paper"]
            )
            paper = paper or "n/a"
            lines.append(
                f"| {c['text']} | {c['source']} | {c['metric']} | {paper} | "
                f"{_cell(c.get('effect'))} | {_cell(c.get('sd'))} | "
                f"{_cell(c.get('effect_over_sd'), 1)} | {_cell(c.get('p'), 4)} | "
                f"**{c['verdict']}** |"
            )
        lines.append("")
    if section["analysis"]:
        lines += [*section["analysis"], ""]
    return lines


def write_report(report, out_dir):
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns the ``.md`` path."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(json_values(report), f, indent=1)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(report["settings"].items()))
    runs = "; ".join(
        f"{r['label']} = `{r['method']}`"
        + (f" {r['overrides']}" if r["overrides"] else "")
        + (f" {r['settings']}" if r["settings"] else "")
        for r in report["runs"]
    )
    lines = [
        f"# {report['experiment']}: {report['title']}",
        "",
        f"Paper: {report['paper']}. Scale `{report['scale']}`, {report['seeds']} seed(s) per "
        f"run, {report['seconds'] / 60:.1f} min in all; the runs' training took "
        f"{report['train_seconds'] / 60:.1f} min (read-back runs: in their pass).",
        "",
        f"Runs: {runs}.",
        "",
        f"Settings (`run_method`): {settings}.",
        "",
    ]
    if report["notes"]:
        lines += ["Notes:", "", *[f"- {note}" for note in report["notes"]], ""]
    for section in report["datasets"]:
        lines += markdown_section(section)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


__all__ = ["markdown_section", "write_report"]
