"""Reading .tflite models into one typed graph IR, and featurising it."""

from perfsage.graph.ir import Graph, Node, Quantization, SubgraphSummary, Tensor
from perfsage.graph.reader import load_graph

__all__ = ["Graph", "Node", "Quantization", "SubgraphSummary", "Tensor", "load_graph"]
