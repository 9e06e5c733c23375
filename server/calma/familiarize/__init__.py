"""Familiarize (CALMA stage 1): orientation, the coding lesson, the practice round, the check — and stage gating.

`markdown` renders the facilitator's Markdown to sanitized HTML, page by
page; `check` scores the check; `gating` decides which of a participant's
stages are open; `progress` is what a participant has done, as stored.
Nothing here touches rooms, the board or the models.
"""
