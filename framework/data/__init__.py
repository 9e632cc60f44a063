"""MNIST and Fashion-MNIST for the lesson: reading IDX files.

``read_idx`` reads any IDX file, gzipped or not; ``write_idx`` writes one
reproducibly. Loading, downloading and preprocessing follow in sibling modules.
"""

from framework.data.idx import IDXError, read_idx, write_idx

__all__ = ["IDXError", "read_idx", "write_idx"]
