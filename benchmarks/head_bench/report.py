"""The benchmark's results as markdown tables, printed, and as JSON."""

import json


def _mib(nbytes):
    return "-" if nbytes is None else f"{nbytes / 2**20:.1f}"


def format_markdown(results):
    """The results as markdown: one table of methods (ratio to softmax), one of literal
    forms (the closed form's speed-up)."""
    env = results["environment"]
    load = env.get("load_average") or []
    lines = [
        f"heads and losses - {env['backend']} {env['backend_version']}, Keras {env['keras']}, "
        f"{env['device']}, "
        f"{env['cpu_count']} CPUs ({env['intra_op_threads'] or 'default'} intra-op threads), "
        f"{env.get('clock', 'wall')} clock, policy {env['policy']}, "
        f"jit_compile={env['jit_compile']}, "
        f"load average {' '.join(f'{v:.2f}' for v in load)} (before) / "
        f"{' '.join(f'{v:.2f}' for v in env.get('load_average_after') or [])} (after)",
        "",
        "Step = head + loss + gradients (embedding and head variables); median of interleaved "
        "repeats. Peak = allocator peak above its level before the step (JAX: the compiled "
        "step's XLA temporaries); largest = largest tensor in the step's graph (PyTorch: "
        "returned by an op of the eager step).",
        "",
        "| B x N x C | method | ms | ratio to softmax | peak MiB | largest MiB | largest tensor |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    rows = results["rows"]
    for row in rows:
        if row["kind"] == "literal":
            continue
        lines.append(_row_line(row, row["ratio"]))
    literal = [row for row in rows if row["kind"] == "literal"]
    if literal:
        lines += [
            "",
            "Paper-literal forms vs closed forms (same loss, same gradients):",
            "",
            "| B x N x C | literal form | ms | closed-form speed-up | peak MiB | largest MiB "
            "| largest tensor |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for row in literal:
            lines.append(_row_line(row, row["ratio"], suffix="x"))
    return "\n".join(lines)


def _row_line(row, ratio, suffix=""):
    shape = "x".join(str(d) for d in row["shape"])
    largest = _mib(row["largest_tensor_bytes"])
    if row["skipped"]:
        return (
            f"| {shape} | {row['method']} | skipped: {row['skipped']} | - | - | {largest} "
            f"| {row['largest_tensor']} |"
        )
    ratio_text = "-" if ratio is None else f"{ratio:.2f}{suffix}"
    return (
        f"| {shape} | {row['method']} | {row['ms']:.3f} | {ratio_text} | "
        f"{_mib(row['peak_bytes'])} | {largest} | {row['largest_tensor']} |"
    )


def report(results, markdown, json_path=None):
    """Print ``markdown``; with ``json_path``, also write ``results`` there as JSON."""
    print(markdown)
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(results, handle, indent=2)
