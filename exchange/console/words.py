"""How the closed vocabularies read on a page: the words an officer uses, translated.

The wire values (``flash``, ``amber+strict``, ``manpads``) stay what they are; these are
their labels, marked for the catalogue and translated where they are shown."""

from __future__ import annotations

from typing import Final

from exchange.console.forms import N_

__all__ = ["EXPLAIN_PRIORITY", "EXPLAIN_TLP", "WORDS"]

WORDS: Final = {
    # types
    "threat-assessment": N_("threat assessment"),
    "security-measure": N_("security measure"),
    "advisory": N_("advisory"),
    "request": N_("request"),
    "revocation": N_("revocation"),
    # priorities
    "flash": N_("flash"),
    "immediate": N_("immediate"),
    "priority": N_("priority"),
    "routine": N_("routine"),
    # TLP
    "clear": N_("TLP:CLEAR"),
    "green": N_("TLP:GREEN"),
    "amber": N_("TLP:AMBER"),
    "amber+strict": N_("TLP:AMBER+STRICT"),
    "red": N_("TLP:RED"),
    # threat levels and confidence
    "low": N_("low"),
    "moderate": N_("moderate"),
    "substantial": N_("substantial"),
    "severe": N_("severe"),
    "critical": N_("critical"),
    "high": N_("high"),
    # risk ratings
    "very-low": N_("very low"),
    "medium": N_("medium"),
    "very-high": N_("very high"),
    # categories
    "manpads": N_("MANPADS"),
    "ied": N_("improvised explosive device"),
    "insider": N_("insider"),
    "cyber": N_("cyber"),
    "uas": N_("unmanned aircraft (drones)"),
    "hijack": N_("hijack"),
    "sabotage": N_("sabotage"),
    "armed-attack": N_("armed attack"),
    "cbrn": N_("CBRN"),
    "laser": N_("laser illumination"),
    "gnss-interference": N_("GNSS interference"),
    "conflict-zone": N_("conflict zone"),
    "unruly-passenger": N_("unruly passenger"),
    "other": N_("other"),
    # acks and roles
    "received": N_("received"),
    "read": N_("read"),
    "actioned": N_("actioned"),
    "chair": N_("chair"),
    "member": N_("member"),
    "observer": N_("observer"),
}

#: What each priority means for delivery (compose page).
EXPLAIN_PRIORITY: Final = {
    "flash": N_("Life at risk now: a recipient is overdue after 15 minutes without an ack."),
    "immediate": N_("Act now: a recipient is overdue after 1 hour without an ack."),
    "priority": N_("Act today: a recipient is overdue after 6 hours without an ack."),
    "routine": N_("For information: a recipient is overdue after 24 hours without an ack."),
}

#: What each TLP label allows the recipients to do (compose page).
EXPLAIN_TLP: Final = {
    "clear": N_("No limit on disclosure."),
    "green": N_("Recipients may share within their community, not publicly."),
    "amber": N_("Recipients may share within their organisation and its clients, need to know."),
    "amber+strict": N_("Only within the recipient organisation; not delivered to observers."),
    "red": N_("Named recipients only: no groups; for their eyes only."),
}
