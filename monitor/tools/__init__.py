"""Tools around the product: benchmarks, evaluation against ground truth, the embedded broker."""
