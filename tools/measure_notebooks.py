"""Measure each solution notebook's full-mode run time and peak memory, for sizing a hub user's server.

Each notebook runs in a fresh kernel (nbclient), in full mode (``CNNVIZ_FAST`` unset); its wall time is
measured, its CPU time (user + system, all threads, kernel start included) and its peak memory, the
largest resident set of the runner and its kernel (``wait4``'s ``ru_maxrss``). CPU time divided by the
threads is what an idle machine would take at best; wall time on a shared machine is an upper bound.
Prints a Markdown table and appends JSON lines to ``--out``.

    python tools/measure_notebooks.py                          # the model load_model() picks here
    CNNVIZ_OFFLINE=1 python tools/measure_notebooks.py         # the offline ShapesNet
    /path/to/imagenet-path python tools/measure_notebooks.py   # squeezenet1_1 on the ImageNet code path
    python tools/measure_notebooks.py 02_last_layer_features --fake-downloads 80 --slowest 3

``--fake-downloads N`` points the kit's data cache at generated stand-ins for what ``make download`` fetches:
a tree in Imagenette's layout with N photos per class and 1024-px "paintings" (for machines that cannot
download them: same sizes and code path, not the pictures).
Times from a shared or busy machine are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(path: Path, timeout: int, slowest: int) -> None:
    """Execute one notebook in a fresh kernel (the child process of :func:`measure`); print its slowest cells."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        timed = []
        for index, cell in enumerate(nb.cells):
            t = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in t and "shell.execute_reply" in t:
                seconds = (
                    datetime.fromisoformat(t["shell.execute_reply"]) - datetime.fromisoformat(t["iopub.execute_input"])
                ).total_seconds()
                timed.append((seconds, index, cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""))
        for seconds, index, first_line in sorted(timed, reverse=True)[:slowest]:
            print(f"    {path.stem} cell {index}: {seconds:6.1f} s  {first_line}", file=sys.stderr)


def measure(path: Path, timeout: int, slowest: int, env: dict[str, str]) -> dict[str, object]:
    """Run ``path`` in a child process; its wall and CPU time (s), peak memory (MiB) and whether it succeeded."""
    start = time.perf_counter()
    command = [sys.executable, __file__, "--run-one", str(path), "--timeout", str(timeout), "--slowest", str(slowest)]
    proc = subprocess.Popen(command, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    return {
        "notebook": path.stem,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mib": round(usage.ru_maxrss / 1024),  # kilobytes on Linux
        "ok": os.waitstatus_to_exitcode(status) == 0,
    }


def fake_downloads(per_class: int) -> Path:
    """A data cache holding what ``make download`` fetches, generated: an Imagenette-layout tree with
    ``per_class`` photos per class (:func:`~cnnviz_helpers.datasets.imagenette.make_imagenette_tree`) and
    1024-px stand-ins for the paintings."""
    import numpy as np
    from PIL import Image

    from cnnviz_helpers.datasets.assets import ASSETS
    from cnnviz_helpers.datasets.imagenette import make_imagenette_tree

    cache = Path(tempfile.mkdtemp(prefix="cnnviz-measure-data-"))
    make_imagenette_tree(cache / "imagenette", per_class=per_class)
    (cache / "downloads").mkdir()
    for k, asset in enumerate(ASSETS):
        coarse = np.random.default_rng(k).integers(0, 256, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((1024, 768), Image.Resampling.BICUBIC).save(cache / "downloads" / asset.name)
    return cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: every notebook in solutions/)")
    parser.add_argument("--timeout", type=int, default=1800, help="per cell, seconds")
    parser.add_argument(
        "--fake-downloads", type=int, default=0, metavar="N", help="generated Imagenette (N photos per class) and paintings"
    )
    parser.add_argument("--slowest", type=int, default=0, metavar="K", help="also print each notebook's K slowest cells")
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line per notebook here")
    parser.add_argument("--run-one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one, args.timeout, args.slowest)
        return 0
    env = {k: v for k, v in os.environ.items() if k != "CNNVIZ_FAST"}
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if args.fake_downloads:
        env["CNNVIZ_DATA"] = str(fake_downloads(args.fake_downloads))
    paths = sorted((ROOT / "solutions").glob("*.ipynb"))
    paths = [p for p in paths if not args.names or p.stem in args.names]
    mode = "offline" if env.get("CNNVIZ_OFFLINE") == "1" else "default model"
    print(
        f"| notebook ({mode}, threads {env.get('OMP_NUM_THREADS', 'all')}) | wall time | CPU time | peak memory |\n|---|---:|---:|---:|"
    )
    for path in paths:
        row = measure(path, args.timeout, args.slowest, env)
        status = "" if row["ok"] else " (FAILED)"
        cells = f"{row['seconds'] / 60:.1f} min{status} | {row['cpu_seconds'] / 60:.1f} min | {row['peak_mib'] / 1024:.1f} GiB"
        print(f"| `{row['notebook']}` | {cells} |", flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row | {"mode": mode, "threads": env.get("OMP_NUM_THREADS")}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
