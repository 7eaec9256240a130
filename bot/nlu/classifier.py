"""A linear multi-class classifier over sparse vectors: averaged large-margin perceptron.

Training is a few passes of stochastic updates (Crammer-Singer hinge loss: push the
right class above every other by a margin), and the weights are averaged over all
steps, which makes the result stable and hard to overfit on a few thousand short
examples. Plain numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.nlu.features import SparseVector

EPOCHS = 10
MARGIN = 1.0
BIAS_RATE = 0.1


class LinearClassifier:
    """``scores(vector)[k]`` is the evidence for class ``k``; higher is better."""

    def __init__(self, weights: npt.NDArray[np.floating], bias: npt.NDArray[np.floating]) -> None:
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)

    @classmethod
    def train(
        cls,
        vectors: Sequence[SparseVector],
        targets: Sequence[int],
        classes: int,
        *,
        width: int,
        epochs: int = EPOCHS,
        seed: int = 0,
    ) -> LinearClassifier:
        weights = np.zeros((width, classes), dtype=np.float32)
        bias = np.zeros(classes, dtype=np.float32)
        # Averaging without storing every step: accumulate step * update, subtract at
        # the end (the usual averaged-perceptron bookkeeping).
        weights_sum = np.zeros_like(weights)
        bias_sum = np.zeros_like(bias)
        step = 1
        order = np.arange(len(vectors))
        rng = np.random.default_rng(seed)
        for epoch in range(epochs):
            rng.shuffle(order)
            rate = 1.0 / (1 + epoch)
            for i in order.tolist():
                vector, target = vectors[i], targets[i]
                scores = vector.values @ weights[vector.indices] + bias + MARGIN
                scores[target] -= MARGIN
                rival = int(np.argmax(scores))
                if rival != target:
                    update = np.zeros(classes, dtype=np.float32)
                    update[rival], update[target] = rate, -rate
                    change = np.outer(vector.values, update)
                    weights[vector.indices] -= change
                    weights_sum[vector.indices] -= step * change
                    bias -= BIAS_RATE * update
                    bias_sum -= step * BIAS_RATE * update
                step += 1
        return cls(weights - weights_sum / step, bias - bias_sum / step)

    def scores(self, vector: SparseVector) -> npt.NDArray[np.float32]:
        if not len(vector.indices):
            return self.bias.copy()
        return np.asarray(vector.values @ self.weights[vector.indices] + self.bias)
