"""The REST API under /api: studies, groups, invites, participants, progress, sessions.

Owns routes, request validation, problem details and the OpenAPI document.
Decides nothing about privacy itself: it asks `calma.access.policy`, and
reads and writes only through `calma.studies.StudyStore`.
"""
