"""Repository-wide pytest setup: the real-Redis fixtures from redis_runner."""

pytest_plugins = ["redis_runner.pytest_plugin"]
