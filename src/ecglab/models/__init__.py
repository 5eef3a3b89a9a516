"""The model zoo. Importing this package registers every architecture family."""

from ecglab.models import (  # noqa: F401  (registration side effects)
    autoencoder,
    cnn,
    ensemble,
    hybrid,
    inception,
    kachuee,
    recurrent,
    resnet,
    transformer,
    unet,
    xresnet,
)
from ecglab.models.classifier import ECGClassifier
from ecglab.models.registry import create_model, list_models, model_info, register_model

__all__ = ["ECGClassifier", "create_model", "list_models", "model_info", "register_model"]
