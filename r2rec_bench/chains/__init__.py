"""Chains: interaction paths sampled from the training graph for each training example."""
