"""Proven evaluation costs on the flowers dataset and the example MLP, each next to a baseline of the same run.

- per-row proving cost with one row per proof (the baseline) vs `--eval-batch` rows per proof;
- verification of the whole evaluation vs its proving time (target: < 10 %);
- the whole flowers evaluation (150 rows: publish of the private dataset and model with its evaluation circuit,
  eval, verify; target < 5 min on the 2-core machine).
The load average is printed next to the figures: on the shared machine absolute times move with it.
Run: .venv/bin/python bench/eval.py [--batch 30] [--single-rows 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from zkreg.api import (
        EvalRequest,
        PublishRequest,
        Repo,
        VerifyEvaluationRequest,
        evaluate,
        publish,
        verify_evaluation,
    )

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--single-rows", type=int, default=3)
    args = parser.parse_args()
    data, model = ROOT / "examples" / "data", ROOT / "examples" / "tiny-mlp.onnx"
    figures: dict[str, object] = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as folder, Repo.init(Path(folder) / "home") as repo:
        started = time.perf_counter()
        publish(repo, PublishRequest([data], name="flowers", kind="dataset", private=True))
        publish(repo, PublishRequest([model], name="mlp", weights="private", dataset="flowers", eval_batch=args.batch))
        published = time.perf_counter()
        out = Path(folder) / "eval.json"
        batched = evaluate(repo, EvalRequest("mlp", "flowers", out))
        proved = time.perf_counter()
        verdict = verify_evaluation(repo, VerifyEvaluationRequest(out))
        verified = time.perf_counter()
        publish(repo, PublishRequest([model], name="one", weights="private", dataset="flowers", eval_batch=1))
        single = evaluate(repo, EvalRequest("one", "flowers", Path(folder) / "one.json", rows=args.single_rows))
        figures.update(
            rows=verdict.rows,
            accuracy=verdict.accuracy,
            publish_s=round(published - started, 1),
            prove_s=round(proved - published, 1),
            verify_s=round(verified - proved, 2),
            verify_over_prove=round((verified - proved) / (proved - published), 4),
            whole_s=round(verified - started, 1),
            per_row_batched_s=round(batched.seconds / batched.rows, 2),
            per_row_single_s=round(single.seconds / single.rows, 2),
            single_over_batched=round((single.seconds / single.rows) / (batched.seconds / batched.rows), 2),
            load_after=os.getloadavg(),
        )
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
