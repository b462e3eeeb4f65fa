"""Dataset recipes: raw downloads (or a generator) -> Parquet shards."""
