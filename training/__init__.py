"""Networks, losses and the trainer for SAKDN (sensor -> vision) and VSKD (vision -> sensor)."""
