"""One router per resource: checkpoints, engines, tournaments, ratings, games, health."""
