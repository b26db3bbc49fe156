"""enqueuer package."""
