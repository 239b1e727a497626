"""Networks, losses and the trainer for SAKDN (sensor -> vision) and VSKD (vision -> sensor).

Layers in the order of the data flow; a module imports only from its own layer and the ones above
it in this list (tests/unit/test_layers.py holds the rule):

    options    run options as dataclasses and every choice list of the CLI (the bottom: any layer imports it)
    data       the store's rows as batches: splits, sampling, augmentation, residency (RAM or streamed)
    models     plain nn.Modules (VGG16-BN, ResNet, TRN, the raw-signal encoder), SPAMFM, the arch records
    distill    the loss terms: GSDM, DASK's RKD, soft targets, semantic loss, the --kd baselines
    engine     the Stage contract, the fit loop, checkpoints, metrics, logs
    recipes    which networks and losses each mode trains in each stage (SAKDN, VSKD, sensor2sensor)
    run        what a user starts: train, evaluate, study, demo, the classical baseline, reports
"""
