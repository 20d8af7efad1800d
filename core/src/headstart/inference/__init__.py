"""After training: a run directory as a model (:func:`load`), predictions and evaluation."""

from .decode import input_path, top_labels
from .predictor import Predictor, load, write_predictions
from .state import INFERENCE_FILE, save_inference_files

__all__ = [
    "INFERENCE_FILE",
    "Predictor",
    "input_path",
    "load",
    "save_inference_files",
    "top_labels",
    "write_predictions",
]
