"""Compression as a what-if on weights: pruning, 2:4 sparsity, palettisation, fewer bits (UDC's axes).

`compress_model(tflite_bytes, recipe)` rewrites a model's int8 weight values in place and keeps
everything else; `perfsage compress` is the same on the command line, and the `compressed` search space
draws compressed variants of the other spaces for the dataset.
"""

from perfsage.compress.model import LayerChange, compress_model
from perfsage.compress.recipe import LayerRecipe, Recipe, load_recipe

__all__ = ["LayerChange", "LayerRecipe", "Recipe", "compress_model", "load_recipe"]
