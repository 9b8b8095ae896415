"""attrmer: micro-expression recognition with attribute embedding and cross-modal contrastive
learning, as a reproducible pipeline."""

__version__ = "0.1.0"

# Before anything imports torch: OpenMP's threads sleep rather than spin while waiting when the
# machine is busy as attrmer starts (attrmer.cpus).
from attrmer.cpus import choose_wait_policy

choose_wait_policy()
