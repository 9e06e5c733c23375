"""Studies: the record of who takes part in what.

Owns the study model (studies, their content, groups, participants,
facilitator accounts, invites, sessions and per-participant progress), the
`StudyStore` interface that persists it, and the study templates (the pilot).
Knows nothing of HTTP, websockets, rooms or how identities are proven: that is
`calma.access`; the SQL lives with the other backends in `calma.store`.
"""

from calma.studies.model import (
    BaselineInteraction,
    DeploymentContext,
    Facilitator,
    FacilitatorAccount,
    Group,
    Invite,
    Participant,
    Progress,
    Role,
    SessionRecord,
    Stage,
    Study,
    StudyContent,
    TrainingContext,
    TrainingExample,
)
from calma.studies.store import AlreadyExists, StudyStore

__all__ = [
    "AlreadyExists",
    "BaselineInteraction",
    "DeploymentContext",
    "Facilitator",
    "FacilitatorAccount",
    "Group",
    "Invite",
    "Participant",
    "Progress",
    "Role",
    "SessionRecord",
    "Stage",
    "Study",
    "StudyContent",
    "StudyStore",
    "TrainingContext",
    "TrainingExample",
]
