"""Ablation grids: run every (regulariser, seed) combination and summarise over seeds."""
