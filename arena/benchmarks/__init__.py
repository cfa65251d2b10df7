"""Benchmarks that span layers (search with a real network, Triton). Each returns a JSON-able dict."""
