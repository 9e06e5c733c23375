"""Access: who someone is and what they may see and do.

Owns facilitator passwords (Argon2id), the server secret, signed invite tokens,
browser sessions, turning a cookie or a token into a `Principal`, the privacy
rules (`policy`), and the authorizer that admits websockets to study rooms.
Reads and writes records only through `calma.studies.StudyStore`; knows
nothing of REST routes (that is `calma.api`) or of how rooms sync (`calma.hub`).
"""
