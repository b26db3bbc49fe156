"""Fixtures of the frontend tests: apps on the real test Redis."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from resque_frontend.app import create_app
from resque_frontend.config import Settings
from resque_proto import Resque, connect

sys.path.insert(0, str(Path(__file__).parent))  # frontend_testkit

AppFactory = Callable[..., Flask]


@pytest.fixture
def resque(redis_url: str) -> Resque:
    return Resque(connect(redis_url), namespace="resque")


@pytest.fixture
def make_app(redis_url: str, resque: Resque) -> AppFactory:
    """``make_app(read_only=True, ...)``: an app on the test Redis with settings overrides."""

    def build(**overrides: Any) -> Flask:
        settings = replace(Settings(redis_url=redis_url, namespace="resque"), **overrides)
        app = create_app(settings, resque)
        app.testing = False  # exercise the real error handlers, as in production
        return app

    return build


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()
