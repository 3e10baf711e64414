"""IAM policy evaluation, as AWS documents it, for the emulator's enforcement and the template tests. Pure: no I/O.

Input: the identity-policy statements of the principal, the resource policy of the resource (bucket, key or topic
policy) when it has one, and one authorization request (principal, action, resource ARN, request context keys).
Output: an `Evaluation`: allow, implicit deny or explicit deny, the statement that decided, and on a deny the statement
that would be needed, as text a person pastes into template.yaml.

Evaluation logic (IAM User Guide, "Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
- an explicit Deny in any applicable policy wins;
- within one account, the request is allowed when an identity policy OR the resource policy allows it. A resource
  policy whose principal is the account (`arn:aws:iam::<account>:root`) does not grant by itself: it delegates to
  the account's IAM policies, which must allow too;
- KMS is the exception ("Key policies in AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html; "Default key policy",
  https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam):
  no principal uses a key unless the key policy allows it. A key-policy statement naming the principal (or the
  service) grants by itself; one naming the account root only lets IAM policies grant, so IAM must allow as well.

Conditions ("Condition operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html): a key absent
from the request context makes the condition false, except for ...IfExists (true when absent), Null (tests presence)
and the negated operators (StringNotEquals, StringNotLike, ArnNotEquals, ArnNotLike: true when absent). Several
values of one key are ORed for positive operators and ANDed (none may match) for negated ones; several keys and
several operators of one statement are ANDed. Key names compare case-insensitively, values case-sensitively (except
the ...IgnoreCase operators and Bool). ARN operators compare the six colon-separated parts one by one, each part
with `*` / `?` wildcards. Set operators ("Multivalued context keys",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
ForAnyValue is false for an absent key, ForAllValues true.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.stack import Statement

Context = Mapping[str, tuple[str, ...]]


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


@dataclass(frozen=True)
class Principal:
    """Who signs the request: a role (its ARN is aws:PrincipalArn) or an AWS service principal."""

    arn: str  # role ARN, or the service principal (e.g. "events.amazonaws.com") for a service
    account: str
    name: str = ""  # logical id of the role in template.yaml, for messages
    service: bool = False


@dataclass(frozen=True)
class AuthRequest:
    """One authorization request, as IAM sees it: one action on one resource with its context keys."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    request: AuthRequest
    principal: Principal
    deciding: Statement | None = None  # the statement that allowed or explicitly denied
    near_misses: tuple[Statement, ...] = ()  # statements matching action and resource whose condition failed
    needed: str = ""  # on an implicit deny: the statement that would allow the request (JSON)
    needed_where: str = ""  # which policy `needed` belongs in: "identity policy of <role>" or "key policy"

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    def explain(self) -> str:
        """One paragraph a person can act on: what was refused, who asked, why, and what to add."""
        who = self.principal.name or self.principal.arn
        head = (
            f"{self.decision.value}: {who} ({self.principal.arn}) may not {self.request.action} on "
            f"{self.request.resource}"
        )
        if self.request.context:
            head += f" with context {json.dumps({k: list(v) for k, v in self.request.context.items()})}"
        lines = [head]
        if self.decision is Decision.EXPLICIT_DENY and self.deciding is not None:
            lines.append(f"denied by {self.deciding.describe()} condition {json.dumps(self.deciding.condition)}")
        for statement in self.near_misses:
            lines.append(
                f"{statement.describe()} matches the action and resource but its condition "
                f"{json.dumps(statement.condition)} is false for this request"
            )
        if self.needed:
            lines.append(f"needed in the {self.needed_where}: {self.needed}")
        return "\n".join(lines)


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not model: extend it rather than guess."""


# -- matching ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8192)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` / `?` wildcard match (the same rule as ops.stack.wildcard_match, with compiled patterns cached:
    the emulator evaluates every request)."""
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike / ArnEquals: the six colon-separated parts are compared one by one, each with wildcards."""
    wanted, got = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != 6 or len(got) != 6:
        return False
    return all(like(w, g) for w, g in zip(wanted, got, strict=True))


def _value_matches(base: str, policy_value: str, value: str) -> bool:
    if base in ("StringEquals", "StringNotEquals"):
        return policy_value == value
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return policy_value.lower() == value.lower()
    if base in ("StringLike", "StringNotLike"):
        return like(policy_value, value)
    if base in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"):
        return arn_like(policy_value, value)
    if base == "Bool":
        return policy_value.lower() == value.lower()
    raise UnsupportedCondition(base)


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
_KNOWN = _NEGATED | {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool", "Null"}


def _as_values(raw: Any) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    return tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)


def _lookup(context: Context, key: str) -> tuple[str, ...] | None:
    lowered = key.lower()
    for name, values in context.items():
        if name.lower() == lowered:
            return values
    return None


def condition_holds(operator: str, key: str, raw_values: Any, context: Context) -> bool:
    """One operator on one key of a Condition block."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in _KNOWN or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedCondition(f"condition operator {operator}")
    policy_values = _as_values(raw_values)
    present = _lookup(context, key)
    if base == "Null":
        # "true": the key must be absent; "false": it must be present.
        return (present is None or not present) == (policy_values[0].lower() == "true")
    negated = base in _NEGATED
    if present is None or not present:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated

    def one(value: str) -> bool:
        matched = any(_value_matches(base, p, value) for p in policy_values)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in present)
    if negated and not qualifier:
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def conditions_hold(condition: Mapping[str, Any], context: Context) -> bool:
    return all(
        condition_holds(operator, key, values, context)
        for operator, keys in condition.items()
        for key, values in keys.items()
    )


def _covers(statement: Statement, request: AuthRequest) -> bool:
    """Action and resource match (the condition is checked separately)."""
    return any(like(a, request.action, ignore_case=True) for a in statement.actions) and any(
        like(r, request.resource) for r in (statement.resources or ("*",))
    )


class _PrincipalMatch(enum.Enum):
    NONE = 0
    DIRECT = 1  # names the principal itself, a wildcard, or the service
    ACCOUNT = 2  # names the account root: delegates to the account's IAM policies


def _principal_match(statement: Statement, principal: Principal) -> _PrincipalMatch:
    spec = statement.principal
    if spec == "*":
        return _PrincipalMatch.DIRECT
    if not isinstance(spec, Mapping):
        return _PrincipalMatch.NONE
    if principal.service:
        services = _as_values(spec.get("Service", []))
        return _PrincipalMatch.DIRECT if principal.arn in services or "*" in services else _PrincipalMatch.NONE
    aws = _as_values(spec.get("AWS", []))
    if "*" in aws or principal.arn in aws:
        return _PrincipalMatch.DIRECT
    partition = principal.arn.split(":", 2)[1] if principal.arn.startswith("arn:") else "aws"
    root = f"arn:{partition}:iam::{principal.account}:root"
    if root in aws or principal.account in aws:
        return _PrincipalMatch.ACCOUNT
    return _PrincipalMatch.NONE


# -- evaluation ------------------------------------------------------------------------------------------
def evaluate(
    principal: Principal,
    identity: Sequence[Statement],
    request: AuthRequest,
    resource_policy: Sequence[Statement] | None = None,
    *,
    key_policy: bool = False,
) -> Evaluation:
    """The decision for one request. `key_policy` says `resource_policy` is a KMS key policy (which must allow)."""
    context = _with_global_keys(principal, request.context)
    identity_applicable = [] if principal.service else [s for s in identity if _covers(s, request)]
    resource_applicable = [(s, _principal_match(s, principal)) for s in (resource_policy or ()) if _covers(s, request)]
    resource_applicable = [(s, m) for s, m in resource_applicable if m is not _PrincipalMatch.NONE]
    near_misses: list[Statement] = []

    def holds(statement: Statement) -> bool:
        if conditions_hold(statement.condition, context):
            return True
        if statement.effect == "Allow":
            near_misses.append(statement)
        return False

    for statement in [*identity_applicable, *(s for s, _ in resource_applicable)]:
        if statement.effect == "Deny" and conditions_hold(statement.condition, context):
            return Evaluation(Decision.EXPLICIT_DENY, request, principal, deciding=statement)

    identity_allow = next((s for s in identity_applicable if s.effect == "Allow" and holds(s)), None)
    direct_allow = next(
        (s for s, m in resource_applicable if s.effect == "Allow" and m is _PrincipalMatch.DIRECT and holds(s)), None
    )
    account_allow = next(
        (s for s, m in resource_applicable if s.effect == "Allow" and m is _PrincipalMatch.ACCOUNT and holds(s)), None
    )
    if direct_allow is not None:
        return Evaluation(Decision.ALLOW, request, principal, deciding=direct_allow)
    if key_policy:
        if account_allow is None:
            return _denied(request, principal, near_misses, "key policy")
        if identity_allow is None:
            return _denied(request, principal, near_misses, _identity_where(principal))
        return Evaluation(Decision.ALLOW, request, principal, deciding=identity_allow)
    if identity_allow is not None:
        return Evaluation(Decision.ALLOW, request, principal, deciding=identity_allow)
    return _denied(request, principal, near_misses, _identity_where(principal))


def _identity_where(principal: Principal) -> str:
    return f"identity policy of {principal.name or principal.arn}"


def _with_global_keys(principal: Principal, context: Context) -> Context:
    """Keys AWS adds to every request of a role (aws:PrincipalArn, aws:PrincipalAccount), unless given."""
    if principal.service:
        return context
    extra = {"aws:PrincipalArn": (principal.arn,), "aws:PrincipalAccount": (principal.account,)}
    merged = dict(extra)
    merged.update(context)
    return merged


def _denied(request: AuthRequest, principal: Principal, near_misses: list[Statement], where: str) -> Evaluation:
    return Evaluation(
        Decision.IMPLICIT_DENY,
        request,
        principal,
        near_misses=tuple(s for i, s in enumerate(near_misses) if all(s is not t for t in near_misses[:i])),
        needed=needed_statement(request, principal, key_policy=where == "key policy"),
        needed_where=where,
    )


# Context keys worth carrying into a suggested statement: they narrow it the way the template's statements do.
_SCOPING_KEYS = ("kms:ViaService", "s3:prefix", "cloudwatch:namespace", "iam:PassedToService")


def needed_statement(request: AuthRequest, principal: Principal, *, key_policy: bool = False) -> str:
    """The smallest statement that allows this request, as JSON for template.yaml."""
    statement: dict[str, Any] = {"Effect": "Allow"}
    if key_policy:
        statement["Principal"] = {"Service": principal.arn} if principal.service else {"AWS": principal.arn}
    statement["Action"] = request.action
    statement["Resource"] = "*" if key_policy else request.resource
    scoping = {k: list(v) for k in _SCOPING_KEYS if (v := _lookup(request.context, k))}
    if scoping:
        statement["Condition"] = {"StringEquals": scoping}
    return json.dumps(statement, sort_keys=False)


# -- a whole deployment's policies ---------------------------------------------------------------------------
@dataclass
class Policies:
    """Every policy of one deployment: the roles' identity policies and the resource policies by resource ARN."""

    principals: Mapping[str, Principal]  # role logical id -> principal
    identity: Mapping[str, Sequence[Statement]]  # role logical id -> its statements
    resource_policies: Mapping[str, Sequence[Statement]] = field(default_factory=dict)  # bucket/key/topic ARN
    key_arns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Evaluation] = {}

    def resource_policy(self, resource: str) -> tuple[Sequence[Statement] | None, bool]:
        """The resource policy that applies to `resource` and whether it is a key policy."""
        if resource in self.key_arns or resource.split(":", 5)[2:3] == ["kms"]:
            return self.resource_policies.get(resource, ()), True
        if resource.startswith("arn:") and resource.split(":", 5)[2] == "s3":
            return self.resource_policies.get(resource.split("/", 1)[0]), False
        return self.resource_policies.get(resource), False

    def evaluate(self, role: str, request: AuthRequest, principal: Principal | None = None) -> Evaluation:
        """The verdict for a request of `role` (or of a service `principal`, judged by resource policies only)."""
        key = (role, principal, request.action, request.resource, tuple(sorted(request.context.items())))
        verdict = self._cache.get(key)
        if verdict is None:
            resource_policy, is_key = self.resource_policy(request.resource)
            who = principal or self.principals[role]
            verdict = evaluate(who, self.identity.get(role, ()), request, resource_policy, key_policy=is_key)
            self._cache[key] = verdict
        return verdict
