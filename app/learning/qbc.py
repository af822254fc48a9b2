"""Query-by-committee strategies: how much a committee's members disagree about each item.

Pure numpy: member probabilities (m, n, k), or the `MemberStats` a `Committee` computes
without materialising them, in; scores (n,), higher = more informative, out. Disagreement is
scored as vote entropy or mean KL divergence to the consensus.
"""

from typing import NamedTuple

import numpy as np

TIE_BREAK = 1e-6  # weight of the consensus entropy that orders items with equal votes


class MemberStats(NamedTuple):
    """A committee's predictions on n rows, as the disagreement measures use them.

    consensus: (n, k) mean of the members' probabilities. votes: (m, n) each member's most
    likely label index. entropies: (m, n) each member's predictive entropy in nats.
    """

    consensus: np.ndarray
    votes: np.ndarray
    entropies: np.ndarray


def stats_from_probabilities(committee: np.ndarray) -> MemberStats:
    """MemberStats of single-label member probabilities (m, n, k)."""
    entropies = -plogp(committee).sum(axis=2)
    return MemberStats(committee.mean(axis=0), committee.argmax(axis=2), entropies)


def vote_entropy_of(stats: MemberStats) -> np.ndarray:
    """Single-label vote entropy (nats) plus the consensus-entropy tie-break, shape (n,).

    With V(y) the members voting y, -sum_y V(y)/m log V(y)/m equals -1/m sum_a log(c_a/m),
    c_a = how many members vote as member a does: m^2 comparisons of (n,) vectors instead of
    a scatter into an (n, k) count matrix.
    """
    return _vote_entropy(stats.votes, stats.consensus)


def _vote_entropy(votes: np.ndarray, consensus: np.ndarray) -> np.ndarray:
    m, k = votes.shape[0], consensus.shape[1]
    agreeing = np.zeros(votes.shape, dtype=np.float64)
    for a in range(m):
        for b in range(m):
            agreeing[a] += votes[a] == votes[b]
    share = agreeing / m
    spread = -plogp(consensus).sum(axis=1, dtype=np.float64) / np.log(max(k, 2))
    return -np.log(share).mean(axis=0) + TIE_BREAK * spread


def kl_of(stats: MemberStats) -> np.ndarray:
    """Single-label mean KL(member || consensus) = H(consensus) - mean H(member), shape (n,)."""
    spread = -plogp(stats.consensus).sum(axis=1, dtype=np.float64)
    spread -= stats.entropies.mean(axis=0, dtype=np.float64)
    return np.maximum(spread, 0.0)


def vote_entropy(
    proba: np.ndarray,
    *,
    multi_label: bool,
    rng: np.random.Generator,
    committee: np.ndarray,
) -> np.ndarray:
    """Entropy (nats) of the members' hard votes; ties broken by the consensus entropy.

    Single-label: votes are each member's argmax, V(y) / m is the vote share of y and the score
    is -sum_y V(y)/m log V(y)/m. Multi-label: the mean over labels of the binary entropy of the
    share of members voting p >= 0.5. A term < TIE_BREAK (normalised consensus entropy) orders
    items with identical votes, so a unanimous pool still ranks by uncertainty.

    Args:
        proba: (n, k) consensus; used for the tie-break.
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.
        committee: (m, n, k) member probabilities.

    Returns:
        float64 array of shape (n,), >= 0.
    """
    if multi_label:
        share = np.mean(committee >= 0.5, axis=0)  # (n, k)
        votes = np.mean(binary_entropy(share), axis=1)
        spread = np.mean(binary_entropy(proba), axis=1) / np.log(2.0)
        return votes + TIE_BREAK * spread
    return _vote_entropy(committee.argmax(axis=2), proba)


def kl_to_consensus(
    proba: np.ndarray,
    *,
    multi_label: bool,
    rng: np.random.Generator,
    committee: np.ndarray,
) -> np.ndarray:
    """Mean over members of KL(member || consensus), consensus = the members' mean.

    Computed as H(consensus) - mean_m H(member_m) (the two are equal when the consensus is the
    mean), so only one log pass over the (m, n, k) array is needed.

    Args:
        proba: (n, k); ignored (the consensus is recomputed from `committee`).
        multi_label: per-label Bernoulli KL averaged over labels if True.
        rng: ignored.
        committee: (m, n, k) member probabilities.

    Returns:
        float64 array of shape (n,), >= 0 (0 when all members agree).
    """
    if multi_label:
        consensus = committee.mean(axis=0)
        spread = binary_entropy(consensus) - binary_entropy(committee).mean(axis=0)
        return np.maximum(spread.mean(axis=1), 0.0)
    return kl_of(stats_from_probabilities(committee))


def plogp(p: np.ndarray) -> np.ndarray:
    """p log p with 0 log 0 = 0, elementwise (cheaper than scipy's xlogy: bench/README.md)."""
    return p * np.log(np.maximum(p, np.finfo(p.dtype).tiny))


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """-p log p - (1 - p) log(1 - p), elementwise, in nats."""
    return -plogp(p) - plogp(1.0 - p)
