"""Time `dexbench report` on made-up results: 20 methods x 4 tasks x 64 pairs x 7 metrics (+1 unavailable).

The site includes the shipped published numbers (their own section and exports).

Prints one JSON object: seconds for the whole site (with and without charts), pages, sizes. No sample previews
(they need videos); their cost is per preview, not per method x task.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DEXBENCH_QUIET", "1")


def main() -> None:
    from dexbench.report.collect import load_results
    from dexbench.report.site import SiteOptions, build_site
    from dexbench.report.synthetic_results import write_results

    n_methods, n_pairs = 20, 64
    out: dict[str, object] = {"benchmark": "report_speed", "methods": n_methods, "tasks": 4, "pairs": n_pairs}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_results(Path(tmp) / "metrics", n_methods, n_pairs=n_pairs)
        out["make_inputs_s"] = round(time.perf_counter() - t0, 2)
        for label, plots in (("with_charts", True), ("no_charts", False)):
            site = Path(tmp) / f"site-{label}"
            t0 = time.perf_counter()
            results = load_results(Path(tmp) / "metrics")
            build_site(results, site, SiteOptions(root=None, plots=plots))  # with the shipped published numbers
            out[f"{label}_s"] = round(time.perf_counter() - t0, 2)
            files = list(site.rglob("*"))
            out[f"{label}_pages"] = len(list(site.glob("*.html")))
            out[f"{label}_bytes"] = sum(f.stat().st_size for f in files if f.is_file())
            out[f"{label}_largest_page_bytes"] = max(f.stat().st_size for f in site.glob("*.html"))
        t0 = time.perf_counter()
        build_site(
            load_results(Path(tmp) / "metrics"), Path(tmp) / "site-with_charts", SiteOptions(plots=True, published=[])
        )
        out["rebuild_with_diff_s"] = round(time.perf_counter() - t0, 2)
    out["cpu_count"] = os.cpu_count()
    out["python"] = platform.python_version()
    out["note"] = "2 shared cores, other helpers running concurrently"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
