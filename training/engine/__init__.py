"""The Stage contract and the fit loop (trainer), checkpoints and resumption, metrics and logs."""
