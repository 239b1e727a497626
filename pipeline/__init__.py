"""Preprocessing pipeline: raw dataset trees -> Zarr stores under cache/."""
