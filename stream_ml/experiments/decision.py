"""The record a router hands to the engine for one event.

A :class:`Decision` says which model's answer is served, which models must answer (the served one
plus shadows or interleaved rankers), and the probability with which the served arm was chosen.
The engine keeps it in the pending record and gives it back to :meth:`Router.reward` when the
feedback arrives, so a delayed reward updates the arm that was actually chosen, with the
propensity it was chosen with.

>>> d = Decision(served="a", answering=("a", "b"), propensity=0.5, arm="a",
...              probabilities={"a": 0.5, "b": 0.5}, seq=0)
>>> d.served, d.answering, d.propensity
('a', ('a', 'b'), 0.5)
"""

from __future__ import annotations

import dataclasses

#: ``Decision.served`` of an interleaving router: the served answer is the merged ranking.
INTERLEAVED = "__interleaved__"


@dataclasses.dataclass(slots=True, frozen=True)
class Decision:
    """Which model answers one event, and with what probability it was chosen.

    Parameters
    ----------
    served
        The model whose answer is served (:data:`INTERLEAVED` for an interleaving router).
    answering
        Models that must predict on this event: ``served`` first, then shadows or candidates.
    propensity
        Probability that ``arm`` was chosen given the router state (1.0 when deterministic).
    arm
        The arm that was chosen (equal to ``served`` except for interleaving).
    probabilities
        The whole distribution over arms the choice was drawn from, for off-policy evaluation.
    seq
        Sequence number of the decision within its router; the router uses it to recognise the
        decision when its reward arrives (unknown or already rewarded decisions are refused).

    Examples
    --------
    >>> Decision("m", ("m",), 1.0, "m", {"m": 1.0}, seq=3).seq
    3
    """

    served: str
    answering: tuple[str, ...]
    propensity: float
    arm: str
    probabilities: dict[str, float]
    seq: int = -1
