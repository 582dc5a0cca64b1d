"""`hilnic sweep`: many `hilnic run`s over a grid of options, in parallel on Dask.

grid.py (axes, points, sweep files), point.py (one point: `hilnic run` in a subprocess, on
a Dask worker), table.py (sweep.csv: each point's parameters and its summary's figures),
runner.py (the cluster, the progress bar, resume, Ctrl-C, the plots).
"""
