"""Discuss, CALMA's live session: segment entries, group attributes, rankings, ratings and consensus figures.

`aggregate` turns rankings into the group's (Borda and Schulze, via
pref_voting); `consensus` computes the before/after agreement figures.
Segments, timers, reveals and the speaker queue are the control document's
(`calma.live.control_state`); the semantic canvas is `calma.canvas`.
"""
