"""perfsage: predict latency, energy and memory of .tflite models on edge hardware.

Implements PerfSAGE (Chai, Tripathy, Zhou et al., arXiv 2301.10999).
"""

__version__ = "0.1.0"
