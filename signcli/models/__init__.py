"""Models: a registry of encoders, the shared input stage and heads, and `SignModel`.

    encoder = MODEL_REGISTRY[settings.model.name](settings.model, {"x": 156})
    model = SignModel(encoder, heads)   # heads: the task's (signcli.tasks.build_model)

Importing this package registers every built-in model. Models know no task: the run's
model, with its task's heads, is built by `signcli.tasks.build_model` / `build_run_model`.
"""

from signcli.models import gru, multistream, transformer  # noqa: F401  (register the built-ins)
from signcli.models.classifier import SignModel
from signcli.models.registry import MODEL_REGISTRY, build_encoder, register_model

__all__ = ["MODEL_REGISTRY", "SignModel", "build_encoder", "register_model"]
