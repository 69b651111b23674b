"""The safety checklist a clinician works through before resolving a risk alert.

Alliance's own wording, for a clinician's follow-up of a risk answer; a clinic's own protocol
governs what each step means in practice.
"""

from __future__ import annotations

SAFETY_CHECKLIST: list[tuple[str, str]] = [
    ("read", "I have read the client's answer and what they wrote"),
    ("contacted", "I have spoken with the client about it, or tried to reach them"),
    ("assessed", "I have asked about current thoughts, plans, means and what keeps them safe"),
    ("plan", "We have agreed next steps or a safety plan, including who to contact"),
    ("recorded", "I have recorded the outcome and told the care team where needed"),
]
CHECKLIST_KEYS = [key for key, _ in SAFETY_CHECKLIST]
