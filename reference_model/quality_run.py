"""The stage-1 quality run, end to end and reproducible: data -> training -> benchmark -> diagnostics -> one JSON.

    python reference_model/quality_run.py --work /tmp/dexbench-quality [--config reference_model/tiny.yaml]

In WORK (every step is skipped when its output is complete and its inputs are unchanged):
  train/raw, train/shards     SynthHeads training set (default 300 identities x 2 clips x 48 frames, 128 px, seed 7)
  eval/                       a separate workspace: SynthHeads held-out set (24 identities, seed 11; its 8 test
                              identities are the benchmark's), protocol manifests (16 pairs x 48 frames per task)
  eval/reference_model/       the config (data.shards pointed at train/shards) and runs/<name>/stage1 (the model;
                              with --stage2 also runs/<name>/stage2, the diffusion stage trained on it)
  eval/submissions, eval/metrics   `dexbench run` / `dexbench eval` of static, rts-warp, dexportrait-motion (and
                              with --stage2 the full model, dexportrait)
  eval/reports                `dexbench report` (HTML + CSV/JSON/Markdown tables)
  stage1_eval.json            `python -m dexbench.model.evaluate_motion` (pose-encoder error, linear probes)
                              plus reference_model/aed_ceilings.py (static / oracle / oracle at the model's size;
                              editing floors: dis_transfer / dis_leakage of the ground truth on every editing pair)
  quality.json, quality.md    the summary printed at the end, and its Markdown tables: the benchmark, the editing
                              floors, and paired bootstrap differences (dexbench.metrics.paired) behind the stage-1
                              criteria (PAIRED below)

Both data sets are rebuilt whenever the SynthHeads generator's source (dexbench/data/synth, the recipe) or the
parameters change (a stamp file records a hash of both), so the run can be repeated after generator changes; a
rebuilt data set retrains the model. Training uses the config's stage-1 steps and threads (tiny: 1 thread) in
--processes DDP processes (default 2: both cores; README.md, 2026-12-06).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from dexbench.io.atomic import write_json, write_text
from dexbench.metrics.paired import paired_bootstrap
from dexbench.metrics.registry import get_metric
from dexbench.report.collect import load_results

REPO = Path(__file__).resolve().parents[1]
METHODS = ("static", "rts-warp", "dexportrait-motion")
METRICS = "apd,aed,csim_sface,disentanglement,dis_transfer,dis_leakage,psnr"
TASKS = ("self-reenactment", "cross-reenactment", "pose-only", "expression-only")
COLUMNS = (("apd", "APD"), ("aed", "AED"), ("csim_sface", "CSIM"), ("dis_transfer", "transfer"),
           ("dis_leakage", "leakage"), ("psnr", "PSNR"))  # fmt: skip
MODEL = "dexportrait-motion"
FULL = "dexportrait"  # stage 2 on top of stage 1 (--stage2)
# (task, metric, baseline): the stage-1 criteria as paired tests of the model against a baseline on the same pairs;
# a baseline "oracle@S" / "oracle" is the ground truth's own score (the editing floors of aed_ceilings.py)
PAIRED = (("cross-reenactment", "apd", "static"), ("cross-reenactment", "aed", "static"),
          ("cross-reenactment", "aed", "rts-warp"), ("pose-only", "apd", "static"),
          ("expression-only", "aed", "static"),
          ("pose-only", "dis_leakage", "oracle@S"), ("pose-only", "dis_transfer", "oracle@S"),
          ("expression-only", "dis_leakage", "oracle@S"), ("expression-only", "dis_transfer", "oracle@S"))  # fmt: skip


def _dexbench(*args: str, cwd: Path, log: Path) -> None:
    """One `dexbench` CLI call (the same entry point a user runs), output appended to `log`."""
    cmd = [sys.executable, "-m", "dexbench", *args]
    with log.open("a") as fh:
        fh.write(f"$ (cd {cwd}) dexbench {' '.join(args)}\n")
        fh.flush()
        rc = subprocess.call(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if rc != 0:
        raise SystemExit(f"dexbench {' '.join(args)} failed (exit {rc}); see {log}")


def _generator_hash() -> str:
    h = hashlib.sha256()
    files = sorted((REPO / "dexbench" / "data" / "synth").glob("*.py"))
    for f in [*files, REPO / "dexbench" / "data" / "recipes" / "synthheads.py"]:
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _build_set(raw: Path, shards: Path, params: dict, log: Path) -> bool:
    """Render + shard one SynthHeads set unless an identical one is there. Returns True if (re)built."""
    stamp = shards.parent / f"{shards.name}.stamp.json"
    want = {"params": params, "generator": _generator_hash()}
    if stamp.is_file() and json.loads(stamp.read_text()) == want and (shards / "frames").is_dir():
        return False
    for p in (raw, shards, stamp):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in params.items()]
    _dexbench("data", "synth", "--out", str(raw), *args, cwd=REPO, log=log)
    _dexbench("data", "shard", "synthheads", "--raw", str(raw), "--out", str(shards), cwd=REPO, log=log)
    write_json(stamp, want)
    return True


def _table(metrics_root: Path, methods: tuple[str, ...]) -> tuple[dict, str]:
    rows, lines = {}, ["| task | method | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---|---|" + "---|" * 6]
    for task in TASKS:
        for m in methods:
            summary = metrics_root / m / "summary.json"
            if not summary.is_file():
                continue
            d = json.loads(summary.read_text())["tasks"].get(task, {}).get("metrics", {})
            row = {}
            for key, _ in COLUMNS:
                x = d.get(key, {})
                ci = x.get("ci95") or [None, None]
                row[key] = {"mean": x.get("mean"), "ci95": ci} if x.get("available", True) else None
            rows.setdefault(task, {})[m] = row

            def fmt(key: str, r: dict = row) -> str:
                v = r[key]
                if v is None or v["mean"] is None:
                    return "-"
                digits = 4 if key == "aed" else 3
                lo, hi = v["ci95"]
                ci = f" [{lo:.{digits}f}, {hi:.{digits}f}]" if key in ("apd", "aed") and lo is not None else ""
                return f"{v['mean']:.{digits}f}{ci}"

            lines.append(f"| {task} | `{m}` | " + " | ".join(fmt(k) for k, _ in COLUMNS) + " |")
    return rows, "\n".join(lines) + "\n"


def _paired(metrics_root: Path, floors: dict, size: int, n_resamples: int = 10000) -> list[dict]:
    """The PAIRED comparisons: mean of (model - baseline) over the pairs both scored, paired bootstrap CI and p."""
    results = {r.key: r for r in load_results(metrics_root)}

    def per_clip(method: str, task: str) -> dict[str, dict[str, float]]:
        table = results[method].per_clip(task) if method in results else None
        return {} if table is None else table.set_index("pair_id").to_dict("index")

    out = []
    for task, metric, base in PAIRED:
        model = per_clip(MODEL, task)
        if base.startswith("oracle"):
            base = base.replace("@S", f"@{size}")
            ref = floors.get(task, {}).get(base, {}).get("per_clip", {})
        else:
            ref = per_clip(base, task)
        ids = [i for i in model if i in ref]
        if not ids:
            continue
        a = [float("nan") if model[i][metric] is None else model[i][metric] for i in ids]
        b = [float("nan") if ref[i][metric] is None else ref[i][metric] for i in ids]
        hib = get_metric(metric).higher_is_better
        r = paired_bootstrap(a, b, higher_is_better=hib, n_resamples=n_resamples, seed=0)
        winner = {"a": MODEL, "b": base}.get(r.better or "", "tie")
        out.append({"task": task, "metric": metric, "a": MODEL, "b": base, "mean_diff": r.mean_diff,
                    "ci95": [r.ci_low, r.ci_high], "p_value": r.p_value, "significant": r.significant,
                    "better": winner, "n": r.n, "higher_is_better": hib})  # fmt: skip
    return out


def _stage1_part(cfg: dict) -> dict:
    """The config without what only stage 2 reads: changing those retrains stage 2 alone."""
    return {k: v for k, v in cfg.items() if k not in ("diffusion", "guidance", "stage2")}


def _forget(run: Path, ev: Path, method: str) -> None:
    """A run folder and the benchmark's submissions and metrics of the method it feeds."""
    shutil.rmtree(run, ignore_errors=True)
    shutil.rmtree(ev / "submissions" / "synthheads" / method, ignore_errors=True)
    shutil.rmtree(ev / "metrics" / "synthheads" / method, ignore_errors=True)


def _processes(run_json: Path) -> int | None:
    """How many DDP processes trained a finished run (None: not trained)."""
    return json.loads(run_json.read_text()).get("processes", 1) if run_json.is_file() else None


def _run_info(run: Path) -> dict:
    info = json.loads((run / "run.json").read_text())
    return {k: info.get(k) for k in ("steps", "seconds", "steps_per_second", "threads", "device", "processes")}


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def _floors_md(floors: dict) -> str:
    lines = ["| task | candidate | transfer | leakage | disentanglement |", "|---|---|---|---|---|"]
    for task, cands in floors.items():
        for key, v in cands.items():
            vals = " | ".join(
                "-" if v[n] is None else f"{v[n]:.3f}" for n in ("dis_transfer", "dis_leakage", "disentanglement")
            )
            lines.append(f"| {task} | `{key}` | {vals} |")
    return "\n".join(lines) + "\n"


def _paired_md(rows: list[dict]) -> str:
    lines = ["| task | metric | model - baseline | mean diff | 95 % CI | p | result |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        d = 4 if r["metric"] == "aed" else 3
        lo, hi = r["ci95"]
        res = f"{r['better']} better" if r["significant"] else "not significant"
        lines.append(f"| {r['task']} | {r['metric']} | `{r['a']}` - `{r['b']}` | {r['mean_diff']:+.{d}f} | "
                     f"[{lo:+.{d}f}, {hi:+.{d}f}] | {r['p_value']:.4f} | {res} (n = {r['n']}) |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, type=Path, help="working folder (data, runs, results)")
    ap.add_argument("--config", default=str(REPO / "reference_model" / "tiny.yaml"))
    ap.add_argument("--steps", type=int, default=None, help="stage-1 steps (default: the config's stage1.steps)")
    ap.add_argument("--train-identities", type=int, default=300)
    ap.add_argument("--eval-identities", type=int, default=24)
    ap.add_argument("--pairs", type=int, default=16, help="pairs per task (at most one per test clip: 32 needs "
                    "--eval-identities 48)")  # fmt: skip
    ap.add_argument("--frames", type=int, default=48, help="driving frames per pair")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--retrain", action="store_true", help="train again even if the run is complete")
    ap.add_argument("--processes", type=int, default=2, help="DDP processes per training (`dexbench train "
                    "--processes`): the effective batch is N x the config's batch_size; 2 uses both cores of the "
                    "reference machine (README.md, 2026-12-06)")  # fmt: skip
    ap.add_argument("--stage2", action="store_true", help="also train stage 2 (the config's stage2 section) on the "
                    "stage-1 run and benchmark the full model, `dexportrait`")  # fmt: skip
    a = ap.parse_args()
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "quality_run.log"
    t0 = time.perf_counter()
    timings_path = work / "timings.json"  # kept across invocations: a re-run that skips steps keeps their times
    timings: dict[str, float] = json.loads(timings_path.read_text()) if timings_path.is_file() else {}

    # 1. data: a training set and a separate held-out evaluation workspace (fixed seeds)
    train_params = {"identities": a.train_identities, "clips_per_identity": 2, "frames": 48, "size": 128,
                    "test_fraction": 0.02, "seed": 7}  # fmt: skip
    eval_params = {"identities": a.eval_identities, "clips_per_identity": 2, "frames": 48, "size": 128,
                   "test_fraction": 0.34, "seed": 11}  # fmt: skip
    ev = work / "eval"
    rebuilt = _build_set(work / "train" / "raw", work / "train" / "shards", train_params, log)
    ds = ev / "datasets" / "synthheads"
    eval_rebuilt = _build_set(ds / "raw", ds / "shards", eval_params, log)
    rebuilt = rebuilt or eval_rebuilt
    proto_stamp, proto_want = ev / "protocol.stamp.json", {"pairs": a.pairs, "frames": a.frames}
    other_pairs = proto_stamp.is_file() and json.loads(proto_stamp.read_text()) != proto_want
    if eval_rebuilt or other_pairs:  # new held-out data or other pairs: every method runs again
        for sub in ("protocol", "submissions", "metrics", "reports"):
            shutil.rmtree(ev / sub, ignore_errors=True)
    if not (ev / "protocol" / "synthheads").is_dir():
        _dexbench("protocol", "synthheads", "--root", str(ev), "--seed", "0", "--max-pairs", str(a.pairs),
                  "--max-frames", str(a.frames), cwd=REPO, log=log)  # fmt: skip
    write_json(proto_stamp, proto_want)
    if rebuilt:
        timings["data_s"] = round(time.perf_counter() - t0, 1)

    # 2. stage 1 on the training set (the config copied next to its runs, as `dexbench run` expects)
    cfg = yaml.safe_load(Path(a.config).read_text())
    cfg["data"]["shards"] = str(work / "train" / "shards")
    if a.steps is not None:
        cfg["stage1"]["steps"] = int(a.steps)
    name = cfg.get("name", "tiny")
    cfg_path = ev / "reference_model" / f"{name}.yaml"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    run_root = ev / "reference_model" / "runs" / name
    done = run_root / "stage1" / "run.json"
    procs = ("--processes", str(a.processes))
    old = yaml.safe_load(cfg_path.read_text()) if cfg_path.is_file() else None
    write_text(cfg_path, yaml.safe_dump(cfg, sort_keys=False))
    stage1_changed = old is None or _stage1_part(old) != _stage1_part(cfg)
    if rebuilt or stage1_changed or a.retrain or _processes(done) != a.processes:
        _forget(run_root / "stage1", ev, MODEL)
        _forget(run_root / "stage2", ev, FULL)  # trained on the old stage 1
        t = time.perf_counter()
        _dexbench(
            "train", "stage1", "--config", str(cfg_path), "--out", str(run_root), "--cpu", *procs, cwd=ev, log=log
        )
        timings["train_s"] = round(time.perf_counter() - t, 1)
    elif old != cfg:
        _forget(run_root / "stage2", ev, FULL)  # only stage-2 settings changed: stage 1 stays
    methods = METHODS
    if a.stage2:
        methods = (*METHODS, FULL)
        if _processes(run_root / "stage2" / "run.json") != a.processes:
            _forget(run_root / "stage2", ev, FULL)  # unfinished, or trained with another process count
            t = time.perf_counter()
            _dexbench("train", "stage2", "--config", str(cfg_path), "--out", str(run_root), "--cpu", *procs, cwd=ev,
                      log=log)  # fmt: skip
            timings["train_stage2_s"] = round(time.perf_counter() - t, 1)

    # 3. the benchmark: run + eval every method on all four tasks of the held-out set
    for m in methods:
        sub = ev / "submissions" / "synthheads" / m
        res = ev / "metrics" / "synthheads" / m / "summary.json"
        if res.is_file():
            continue
        t = time.perf_counter()
        _dexbench("run", m, "--dataset", "synthheads", "--root", str(ev), cwd=ev, log=log)
        _dexbench("eval", str(sub), "--dataset", "synthheads", "--root", str(ev), "--metrics", METRICS,
                  "--bootstrap", str(a.bootstrap), cwd=ev, log=log)  # fmt: skip
        timings[f"benchmark_{m}_s"] = round(time.perf_counter() - t, 1)
    _dexbench("report", "--results", str(ev / "metrics"), "--out", str(ev / "reports"), "--root", str(ev),
              "--no-plots", cwd=ev, log=log)  # fmt: skip

    # 4. stage-1 diagnostics (pose-encoder error vs true pose, linear probes; held-out identities)
    diag = work / "stage1_eval.json"
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "dexbench.model.evaluate_motion", "--config", str(cfg_path), "--runs",
           str(run_root), "--shards", str(ds / "shards"), "--max-pairs", "4", "--out", str(diag)]  # fmt: skip
    with log.open("a") as fh:
        if subprocess.call(cmd, cwd=ev, stdout=fh, stderr=subprocess.STDOUT) != 0:
            raise SystemExit(f"evaluate_motion failed; see {log}")
    timings["diagnostics_s"] = round(time.perf_counter() - t, 1)
    d = json.loads(diag.read_text())

    # 5. the AED / APD ceilings of a model at the config's output resolution (reference_model/aed_ceilings.py)
    t = time.perf_counter()
    size = str(cfg["motion"].get("output_size") or cfg["motion"]["image_size"])
    cmd = [sys.executable, str(REPO / "reference_model" / "aed_ceilings.py"), "--root", str(ev), "--size", size,
           "--pairs", str(min(8, a.pairs)), "--frames", str(a.frames)]  # fmt: skip
    with log.open("a") as fh:
        done_ceil = subprocess.run(cmd, cwd=ev, stdout=subprocess.PIPE, stderr=fh, text=True)
    if done_ceil.returncode != 0:
        raise SystemExit(f"aed_ceilings failed; see {log}")
    ceil = json.loads(done_ceil.stdout.strip().splitlines()[-1])
    ceil.pop("analyzer", None)
    floors = ceil.pop("editing_floors")
    timings["ceilings_s"] = round(time.perf_counter() - t, 1)

    write_json(timings_path, timings)
    rows, md = _table(ev / "metrics" / "synthheads", methods)
    paired = _paired(ev / "metrics" / "synthheads", floors, int(size))
    md += "\nEditing floors: the ground truth scored as an output (same pairs)\n\n" + _floors_md(floors)
    md += "\nPaired bootstrap (10000 resamples over pairs; dexbench.metrics.paired)\n\n" + _paired_md(paired)
    write_text(work / "quality.md", md)
    out = {
        "work": str(work),
        "config": str(cfg_path),
        "train_set": train_params,
        "eval_set": eval_params | {"pairs_per_task": a.pairs, "frames_per_pair": a.frames},
        "generator": _generator_hash(),
        "training": _run_info(run_root / "stage1"),
        "training_stage2": _run_info(run_root / "stage2") if a.stage2 else None,
        "benchmark": rows,
        "bootstrap": a.bootstrap,
        "pose_encoder_test": d["pose_encoder_test"],
        "linear_probe_test_r2": d["linear_probe_test_r2"],
        "aed_ceilings": ceil,
        "editing_floors": {t: {k: _without(v, "per_clip") for k, v in c.items()} for t, c in floors.items()},
        "editing_floors_per_clip": {t: {k: v["per_clip"] for k, v in c.items()} for t, c in floors.items()},
        "paired": paired,
        "timings_s": timings | {"this_invocation_s": round(time.perf_counter() - t0, 1)},
        "report": str(ev / "reports"),
    }
    write_json(work / "quality.json", out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
