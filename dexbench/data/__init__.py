"""Datasets: recipes that turn raw videos into Parquet shards, SynthHeads, and shard readers."""
