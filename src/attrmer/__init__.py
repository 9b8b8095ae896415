"""attrmer: micro-expression recognition with attribute embedding and cross-modal contrastive
learning, as a reproducible pipeline."""

__version__ = "0.1.0"
