"""The websocket prediction feed: a FastAPI app around one engine, a live dashboard, metrics.

>>> from river import linear_model
>>> from stream_ml import Engine
>>> app = create_app(Engine({"lr": linear_model.LogisticRegression()}), ServeSettings())
>>> app.title
'stream-ml'
"""

from __future__ import annotations

from stream_ml.serve.app import create_app
from stream_ml.serve.feed import FeedEvent
from stream_ml.serve.server import ServerThread, uvicorn_config
from stream_ml.serve.settings import ServeSettings

__all__ = ["FeedEvent", "ServeSettings", "ServerThread", "create_app", "uvicorn_config"]
