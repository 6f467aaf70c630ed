"""Per-key aggregate states: ``update(row, ts)``, ``revert(row, ts)`` (when removable), ``copy()``.

A state reads column ``col`` of the event row; a getter ``get_x(state, t)`` reads a feature value
from it. Several features of one window share a state (count, sum, mean, var and std all read one
:class:`Moments`).
"""

from __future__ import annotations
