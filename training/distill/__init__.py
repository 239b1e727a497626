"""The loss terms of both methods: cross-entropy with the semantic (GloVe) loss, soft targets,
SAKDN's GSDM (gsdm), VSKD's DASK (RKD distance and angle), and the registered --kd baselines (losses)."""
