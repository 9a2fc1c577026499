"""Hydra configs shipped with xrouter (`router_dapo.yaml`: DAPO training of the router on verl)."""
