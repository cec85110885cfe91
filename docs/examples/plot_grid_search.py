"""
A grid search over filters and learning rate
============================================

:class:`skdigits.CNNDigitClassifier` is a scikit-learn classifier, so
``GridSearchCV`` searches its parameters as it would any other's: here the
number of filters and the learning rate, on scikit-learn's 8x8 digits
(stratified folds, since it is a classifier), drawn as a heatmap of the mean
cross-validated accuracy.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from skdigits import CNNDigitClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
grid = {"filters": [8, 16, 32], "learning_rate": [3e-3, 2e-2]}
search = GridSearchCV(CNNDigitClassifier(epochs=6, conv_blocks=2, random_state=0), grid, cv=3)
search.fit(X_train, y_train)
print("best:", search.best_params_, f"CV {search.best_score_:.3f}, test {search.score(X_test, y_test):.3f}")

scores = search.cv_results_["mean_test_score"].reshape(len(grid["filters"]), len(grid["learning_rate"]))
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis")
ax.set_xticks(range(len(grid["learning_rate"])), [f"{r:g}" for r in grid["learning_rate"]])
ax.set_yticks(range(len(grid["filters"])), grid["filters"])
ax.set(xlabel="learning_rate", ylabel="filters", title="mean CV accuracy")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value < scores.max() else "black")
fig.colorbar(image)
