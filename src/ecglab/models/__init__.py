"""The model zoo. Importing this package registers every architecture family."""

from ecglab.models import kachuee, resnet  # noqa: F401  (registration side effects)
from ecglab.models.classifier import ECGClassifier
from ecglab.models.registry import create_model, list_models, model_info, register_model

__all__ = ["ECGClassifier", "create_model", "list_models", "model_info", "register_model"]
