"""stream-ml: an online streaming learning engine.

>>> from river import tree
>>> from stream_ml import Engine
>>> engine = Engine(models={"tree": tree.HoeffdingTreeClassifier()})
>>> engine.predict({"x": 1.0}, id="e1").model
'tree'
"""

from __future__ import annotations

__version__ = "0.1.0"

from stream_ml.engine import Engine
from stream_ml.errors import StreamMLError
from stream_ml.events import Ack, Feedback, Observation, Prediction

__all__ = ["Ack", "Engine", "Feedback", "Observation", "Prediction", "StreamMLError", "__version__"]
