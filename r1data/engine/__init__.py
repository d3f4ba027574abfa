"""The engine: runs a resolved spec's steps over a source and writes shards."""
