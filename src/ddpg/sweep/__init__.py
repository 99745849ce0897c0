"""Sweeps past one machine: `ddpg sweep SWEEP.yaml` on Ray Tune (the ray extra), each trial's
seeds trained as one population (ddpg.sweep.spec: the file; .trial: what a worker runs; .run:
the driver, the results table, best.yaml and plots)."""
