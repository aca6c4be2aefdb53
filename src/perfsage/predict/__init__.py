"""Serving pretrained predictors: `Predictor.load(target).predict(model)`, and the HTML report."""

from perfsage.model.domain import OodReason
from perfsage.predict.predictor import (
    DEFAULT_TARGET,
    Interval,
    Layer,
    Prediction,
    Predictor,
    PreparedModel,
    model_files,
    prepare,
)

__all__ = ["DEFAULT_TARGET", "Interval", "Layer", "OodReason", "Prediction", "Predictor", "PreparedModel",
           "model_files", "prepare"]
