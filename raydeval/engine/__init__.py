"""Sharding, the Ray actor pool and the exact reduction of shard states."""
