"""Sharding, Ray tasks that evaluate shards, and the exact reduction of their states."""
