"""signcli: train, resume, evaluate, export and gate sign-language recognition models."""

__version__ = "0.1.0"
