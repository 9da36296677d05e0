"""Models: a registry of encoders, the shared input stage and heads, and `SignModel`.

    model = build_model(settings.model, {"x": 156}, num_gloss=105, num_cat=10)
    logits = model(streams, mask)   # {"gloss": [B, 105], "cat": [B, 10]}

Importing this package registers every built-in model.
"""

from signcli.models import gru, multistream, transformer  # noqa: F401  (register the built-ins)
from signcli.models.classifier import SignClassifier, SignModel
from signcli.models.registry import MODEL_REGISTRY, build_model, build_run_model, register_model

__all__ = [
    "MODEL_REGISTRY",
    "SignClassifier",
    "SignModel",
    "build_model",
    "build_run_model",
    "register_model",
]
