"""Serving pretrained predictors: `Predictor.load(target).predict(model)`, and the HTML report."""

from perfsage.predict.predictor import DEFAULT_TARGET, Interval, Layer, Prediction, Predictor, model_files

__all__ = ["DEFAULT_TARGET", "Interval", "Layer", "Prediction", "Predictor", "model_files"]
