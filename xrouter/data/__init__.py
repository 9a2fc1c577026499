"""Datasets: recorded routing outcomes, source adapters and router training rows."""
