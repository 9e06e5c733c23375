"""The live board hub: y-websocket rooms on Starlette.

Owns rooms, their documents, connections, awareness and the room websocket
route. Persists only through `calma.store`; knows nothing of studies or auth
beyond the `Permission` a connection is given.
"""
