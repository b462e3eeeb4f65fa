"""File formats: atomic writes, video decode/encode, JPEG frames, Parquet shards."""
