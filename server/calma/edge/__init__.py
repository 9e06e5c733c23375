"""The edge: what is refused before any route sees a request (connection caps, slow clients).

Nothing here authenticates or reads the store: these checks cost nothing and
come first, so that an anonymous flood is turned away before it can reach the
parts that do.
"""
