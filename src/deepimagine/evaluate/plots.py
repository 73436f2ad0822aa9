"""Plots of one benchmark's results, from the score dicts alone: PNG figures (rendered as images by
``dvc plots show``) and per-predictor JSON data files for DVC's templates.

Layout under ``metrics/plots/`` (images and data apart, so that dvc.yaml can give each data folder its template):
  ``images/<benchmark>_{calibration,confusion,by_factor}.png``
  ``data/calibration/<benchmark>/<predictor>.json``  rows {confidence, accuracy, count}   (template: linear/scatter)
  ``data/confusion/<benchmark>/<predictor>.json``    rows {actual, predicted}, one per question (template: confusion)
  ``data/by_factor/<benchmark>/<predictor>.json``    rows {factor, acc, bacc, ce, n}     (template: bar_horizontal)
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..core import io

log = logging.getLogger(__name__)


def safe_name(name: str) -> str:
    return name.replace("/", "_")


def plot_data(results: dict[str, dict]) -> dict[str, dict[str, list[dict]]]:
    """{'calibration' | 'confusion' | 'by_factor': {predictor: rows}} for one benchmark."""
    out: dict[str, dict[str, list[dict]]] = {"calibration": {}, "confusion": {}, "by_factor": {}}
    for pred, res in results.items():
        out["calibration"][pred] = [{"confidence": b["confidence"], "accuracy": b["accuracy"], "count": b["count"]}
                                    for b in res["calibration"] if b["count"]]
        rows = []
        for cat, matrix in res["confusion"].items():
            for gold, counts in enumerate(matrix):
                for col, c in enumerate(counts):
                    label = "invalid" if col == len(matrix) else f"{cat}:{col}"
                    rows += [{"actual": f"{cat}:{gold}", "predicted": label}] * int(c)
        out["confusion"][pred] = rows
        out["by_factor"][pred] = [{"factor": f, "acc": v["acc"], "bacc": v["bacc"], "ce": v["ce"], "n": v["n"]}
                                  for f, v in res.get("by_factor", {}).items()]
    return out


def write_plots(benchmark: str, results: dict[str, dict], out_dir: str | Path) -> list[Path]:
    """Write the data files and PNG figures of one benchmark; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written: list[Path] = []
    data = plot_data(results)
    for kind, per_pred in data.items():
        for pred, rows in per_pred.items():
            path = out_dir / "data" / kind / benchmark / f"{safe_name(pred)}.json"
            io.write_json(path, rows)
            written.append(path)
    preds = list(results)
    if not preds:
        return written

    # calibration curves
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    for pred in preds:
        rows = data["calibration"][pred]
        if rows:
            ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", ms=3,
                    label=f"{pred} (ECE {results[pred]['ece']:.3f})")
    ax.set(xlabel="confidence (top option)", ylabel="accuracy", title=f"Calibration: {benchmark}", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=7)
    written.append(_save(fig, out_dir / "images" / f"{benchmark}_calibration.png"))

    # confusion matrices: predictors x categories
    cats = sorted({c for res in results.values() for c in res["confusion"]})
    fig, axes = plt.subplots(len(preds), len(cats), figsize=(2.6 * len(cats), 2.4 * len(preds)), squeeze=False)
    for i, pred in enumerate(preds):
        for j, cat in enumerate(cats):
            ax = axes[i][j]
            m = np.asarray(results[pred]["confusion"].get(cat, [[0]]))
            ax.imshow(m, cmap="Blues")
            for (r, c), v in np.ndenumerate(m):
                ax.text(c, r, str(v), ha="center", va="center", fontsize=7)
            ax.set_xticks(range(m.shape[1]), [*map(str, range(m.shape[1] - 1)), "inv"], fontsize=7)
            ax.set_yticks(range(m.shape[0]), [str(r) for r in range(m.shape[0])], fontsize=7)
            if i == 0:
                ax.set_title(cat, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{pred}\ngold", fontsize=7)
    fig.suptitle(f"Confusion (rows gold, columns predicted): {benchmark}", fontsize=9)
    written.append(_save(fig, out_dir / "images" / f"{benchmark}_confusion.png"))

    # accuracy by perturbation factor
    factors = sorted({f for pred in preds for f in results[pred].get("by_factor", {})})
    if factors:
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(factors) * max(1, len(preds) / 3) + 1.5))
        height = 0.8 / len(preds)
        for i, pred in enumerate(preds):
            bf = results[pred].get("by_factor", {})
            ax.barh(np.arange(len(factors)) + i * height, [bf.get(f, {}).get("acc", 0) for f in factors],
                    height=height, label=pred)
        ax.set_yticks(np.arange(len(factors)) + 0.4 - height / 2,
                      [f"{f} (n={results[preds[0]].get('by_factor', {}).get(f, {}).get('n', 0)})" for f in factors],
                      fontsize=7)
        ax.set(xlabel="accuracy", xlim=(0, 1), title=f"Accuracy by perturbation factor: {benchmark}")
        ax.legend(fontsize=7)
        written.append(_save(fig, out_dir / "images" / f"{benchmark}_by_factor.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
