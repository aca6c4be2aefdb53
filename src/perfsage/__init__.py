"""perfsage: predict latency, energy and memory of .tflite models on edge hardware (PerfSAGE, arXiv 2301.10999)."""

__version__ = "0.1.0"
