"""perfsage: predict latency, energy and memory of .tflite models on edge hardware.

Implements PerfSAGE (Chai, Tripathy, Zhou et al., arXiv 2301.10999).
"""

__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str):
    # Lazy: `import perfsage` stays light; the predictor pulls in torch only when asked for.
    if name == "Predictor":
        from perfsage.predict import Predictor

        return Predictor
    raise AttributeError(f"module 'perfsage' has no attribute {name!r}")
