"""The semantic canvas: every label placed on a shared 2-D map where near meanings sit near each other.

`placement` turns embeddings into positions that stay put as the map grows;
`grouping` suggests near-duplicates and groupings (hints the group may accept
or dismiss, never merges); `offline` is `calma map`, the same placement for a
list of labels outside a live session.
"""
