"""Plots with matplotlib (Agg, PNG and SVG): one run's records, a sweep's table.

run.py (`hilnic plot RUN_DIR`: cwnd and bytes in flight, ring occupancy, BQL, interrupts and
softirqs over simulated time, from records.npz), sweep.py (throughput and interrupt rate
against frame size, wall-clock cost per point, from sweep.csv's rows), figure.py (figures
without pyplot's global state, saved reproducibly).
"""
