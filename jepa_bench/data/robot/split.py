"""Train / validation split by episode, never by clip.

Splitting random clips (windows) would put frames of one episode on both sides, and a probe
scored on validation clips would then be scored on episodes it was trained on. Whole episodes are
assigned to one side instead, with the seed's defaults (train_split 0.9, seed 3072).
"""

from __future__ import annotations

import numpy as np

TRAIN_SPLIT = 0.9
SPLIT_SEED = 3072


def split_episodes(
    n_episodes: int, train_split: float = TRAIN_SPLIT, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and validation episodes among ``n_episodes``, each sorted.

    ``round((1 - train_split) * n)`` episodes, at least one, are drawn for validation from a
    permutation seeded by ``seed``; at least one stays for training. Needs ``n_episodes >= 2``.
    """
    if isinstance(n_episodes, bool) or int(n_episodes) != n_episodes or n_episodes < 2:
        raise ValueError(
            f"an episode split needs at least 2 episodes (one to train, one to validate); "
            f"got {n_episodes}"
        )
    if not 0.0 < train_split < 1.0:
        raise ValueError(f"train_split must lie strictly between 0 and 1, got {train_split}")
    n = int(n_episodes)
    n_val = min(n - 1, max(1, int(round((1.0 - train_split) * n))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
