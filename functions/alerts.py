"""Alerts to the operators' SNS topic: a short subject and a plain-text body a person can act on at 3 a.m."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)

# SNS Publish: Subject must be ASCII, no line breaks, at most 100 characters.
_SUBJECT_MAX = 100


@dataclass(frozen=True)
class Alert:
    subject: str
    facts: Sequence[tuple[str, str]]  # ("Export id", "aurora-sor-..."), ...
    next_steps: Sequence[str]

    def body(self) -> str:
        lines = [self.subject, ""]
        lines += [f"{name}: {value}" for name, value in self.facts]
        if self.next_steps:
            lines += ["", "What to do next:"]
            lines += [f"- {step}" for step in self.next_steps]
        lines += ["", "See the README, section Operations, for the procedures."]
        return "\n".join(lines)


def _clean_subject(subject: str) -> str:
    ascii_only = subject.encode("ascii", "replace").decode().replace("\n", " ").replace("\r", " ")
    return ascii_only if len(ascii_only) <= _SUBJECT_MAX else ascii_only[: _SUBJECT_MAX - 3] + "..."


def send_alert(sns: Any, topic_arn: str, alert: Alert) -> str:
    """Sends the alert and returns the message id; a failure is raised, never swallowed."""
    response = sns.publish(TopicArn=topic_arn, Subject=_clean_subject(alert.subject), Message=alert.body())
    logger.warning("alert sent", extra={"subject": alert.subject, "message_id": response["MessageId"]})
    return str(response["MessageId"])
