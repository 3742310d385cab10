"""The reliability tests use the service fixtures (real redis-server, settings)."""

from tests.worker.conftest import destination, publishing, redis_client, redis_server, settings

__all__ = ["destination", "publishing", "redis_client", "redis_server", "settings"]
