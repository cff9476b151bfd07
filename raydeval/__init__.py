"""raydeval — exact, distributed evaluation of forgery-detection benchmarks on Ray."""

__version__ = "0.1.0"
