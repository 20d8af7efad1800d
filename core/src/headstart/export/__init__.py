"""``headstart export``: a finished run in the formats other libraries load.

Core writes the formats that work for every domain — ``onnx`` (through ``torch.onnx``'s dynamo
exporter, checked with onnxruntime) and ``torch-export`` (a ``torch.export`` program, checked by
loading it back). A source adds its ecosystem's formats (``hf`` for Hugging Face models,
``timm`` and ``torchvision`` for those libraries' models) through an optional method,
``export_formats() -> {name: function(predictor, folder) -> dict}``. ``full`` rewrites a run's small
(delta) checkpoints with every weight, so the run directory loads without the source's pretrained
weights (``export/full.py``). Every export writes
``export.json``: the format, the files, and the largest difference between the export's outputs
and Headstart's own on the same inputs. ``merge_run`` (``headstart merge``) writes a run whose
adapters are merged into its weights as a new run directory holding the full model.
"""

from .core import export, export_formats
from .errors import ExportError
from .merge import merge_run

#: ``export`` under its public name, ``headstart.export_run`` (``headstart.export`` is this package).
export_run = export

__all__ = ["ExportError", "export", "export_formats", "export_run", "merge_run"]
