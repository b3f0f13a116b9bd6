"""The declared OpenFlow 1.3 pipeline, and the verifier every compiled rule passes.

    table 0 classify: bind in_port + IPv4 source to a class (tier or zone) in metadata,
                      apply the tier's meter; drop unknown sources (anti-spoofing)
    table 1 policy:   class x destination -> allow (goto 2) or drop; blocklist
    table 2 forward:  IPv4 destination -> output port

Each table declares the match fields it may use and the tables it may jump to (after Faucet's
ValveTableConfig). `verify(rule)` raises if a rule breaks its table's declaration.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSIFY, POLICY, FORWARD = 0, 1, 2
METADATA_MASK = 0xFF


@dataclass(frozen=True)
class TableDecl:
    table_id: int
    name: str
    match_fields: frozenset[str]
    next_tables: frozenset[int]
    may_output: bool
    may_meter: bool


PIPELINE: dict[int, TableDecl] = {
    t.table_id: t
    for t in (
        TableDecl(CLASSIFY, "classify", frozenset({"in_port", "eth_type", "ipv4_src"}),
                  frozenset({POLICY, FORWARD}), may_output=False, may_meter=True),
        TableDecl(POLICY, "policy", frozenset({"metadata", "eth_type", "ipv4_dst"}),
                  frozenset({FORWARD}), may_output=False, may_meter=False),
        TableDecl(FORWARD, "forward", frozenset({"eth_type", "ipv4_dst"}),
                  frozenset(), may_output=True, may_meter=False),
    )
}

# Fields that are only valid when eth_type says IPv4 (OpenFlow prerequisites).
_NEEDS_IPV4 = frozenset({"ipv4_src", "ipv4_dst"})


class PipelineError(AssertionError):
    pass


def verify(rule) -> None:
    """Check one rule (hermitnet.policy.compile.Rule) against the declared pipeline."""
    decl = PIPELINE.get(rule.table)
    if decl is None:
        raise PipelineError(f"{rule}: table {rule.table} is not declared")
    fields = {name for name, _ in rule.match}
    undeclared = fields - decl.match_fields
    if undeclared:
        raise PipelineError(f"{rule}: table {decl.name} does not match on {sorted(undeclared)}")
    if fields & _NEEDS_IPV4 and dict(rule.match).get("eth_type") != 0x0800:
        raise PipelineError(f"{rule}: IPv4 fields without eth_type=0x0800")
    if rule.goto is not None and rule.goto not in decl.next_tables:
        raise PipelineError(f"{rule}: table {decl.name} may not go to table {rule.goto}")
    if rule.output is not None and not decl.may_output:
        raise PipelineError(f"{rule}: table {decl.name} may not output")
    if rule.meter is not None and not decl.may_meter:
        raise PipelineError(f"{rule}: table {decl.name} may not meter")
    if rule.metadata is not None and rule.goto is None:
        raise PipelineError(f"{rule}: metadata written but no next table reads it")
    if rule.priority == 0 and rule.match:
        raise PipelineError(f"{rule}: the table-miss rule (priority 0) must match everything")
    if rule.goto is not None and rule.output is not None:
        raise PipelineError(f"{rule}: both goto and output")
