"""Transformations: what each tag sees of the event data (sGTM's Allow parameters, Exclude
parameters and Augment event).

A transformation applies to a tag when the tag is selected (``affected_tags`` by name,
``affected_tag_types`` by type code; neither means every tag; ``all_tags_except`` turns the
selection into "every tag but these") and its matching conditions hold (AND-ed trigger conditions,
evaluated on the event data as the tag sees it so far; none means always). For one tag, the
transformations that apply run one after another (``KIND_ORDER``: every Allow, then every Augment,
then every Exclude; within a kind, higher ``priority`` first, equal priorities in config order), each
on the result of the previous one:

* ``allow``: only the listed top-level parameters are kept;
* ``augment``: each ``{name, value}`` is set (the value may hold ``{{Variable}}`` references, evaluated
  on the event data as it stands when the transformation runs);
* ``exclude``: the listed top-level parameters are removed.

Parameter names are top-level event data keys, taken literally (``user_data`` removes the whole
object). The tag's own parameters (``{{Event Data}}`` variables) are then resolved on the
transformed data, and the tag runs with it; other tags and the event's report keep the client's
event data. The tag's report lists each transformation that applied and what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .event_data import copy_event_data
from .js import UNDEFINED
from .triggers import Condition
from .variables import EventContext, Template

KINDS = ("allow", "augment", "exclude")
KIND_ORDER = {"allow": 0, "augment": 1, "exclude": 2}  # sGTM runs Allow, then Augment, then Exclude


@dataclass
class Transformation:
    name: str
    kind: str  # allow | augment | exclude | unsupported
    parameters: list[str] = field(default_factory=list)  # allow / exclude
    values: list[tuple[str, Template]] = field(default_factory=list)  # augment
    conditions: list[Condition] = field(default_factory=list)
    affected_tags: frozenset[str] = frozenset()
    affected_tag_types: frozenset[str] = frozenset()
    all_tags_except: bool = False
    priority: int = 0

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Transformation:
        return cls(
            name=str(data["name"]),
            kind=str(data.get("kind", "unsupported")),
            parameters=[str(p) for p in data.get("parameters") or []],
            values=[(str(v["name"]), Template(v.get("value", ""))) for v in data.get("set") or []],
            conditions=[Condition.from_config(c) for c in data.get("conditions") or []],
            affected_tags=frozenset(data.get("affected_tags") or ()),
            affected_tag_types=frozenset(data.get("affected_tag_types") or ()),
            all_tags_except=bool(data.get("all_tags_except", False)),
            priority=int(data.get("priority", 0)),
        )

    @property
    def references(self) -> tuple[str, ...]:
        refs = [r for c in self.conditions for r in c.references]
        refs += [r for _, t in self.values for r in t.refs]
        return tuple(refs)

    def selects(self, tag_name: str, tag_types: Iterable[str]) -> bool:
        if not self.affected_tags and not self.affected_tag_types:
            return not self.all_tags_except  # "all tags except (nothing)" is read as every tag
        listed = tag_name in self.affected_tags or any(t in self.affected_tag_types for t in tag_types)
        return listed != self.all_tags_except

    def apply(self, ctx: EventContext) -> dict[str, Any] | None:
        """Change ``ctx.event_data`` in place when the conditions hold; the changes, or None."""
        if self.kind not in KIND_ORDER:
            return None
        if not all(c.trace(ctx).result for c in self.conditions):
            return None
        data = ctx.event_data
        removed: list[str] = []
        changed: dict[str, Any] = {}
        if self.kind == "allow":
            keep = set(self.parameters)
            removed = [k for k in data if k not in keep]
        elif self.kind == "exclude":
            removed = [k for k in self.parameters if k in data]
        else:
            for name, template in self.values:
                value = template.evaluate(ctx)
                if value is UNDEFINED:
                    continue
                changed[name] = value
        for key in removed:
            del data[key]
        data.update(changed)
        return {"removed": removed, "set": changed}


def ordered(transformations: Iterable[Transformation]) -> list[Transformation]:
    items = list(transformations)
    return sorted(items, key=lambda t: (KIND_ORDER.get(t.kind, 3), -t.priority))  # stable: config order


def transformed_context(transformations: list[Transformation], tag_name: str, tag_types: Iterable[str],
                        base: EventContext) -> tuple[EventContext | None, list[dict[str, Any]]]:
    """The event context a tag runs with: None when no transformation selects the tag (it uses the
    event's own context), else a new context over a transformed copy of the event data, with
    the list of ``{name, kind, changes}`` that applied."""
    tag_types = tuple(tag_types)
    chosen = [t for t in transformations if t.selects(tag_name, tag_types)]
    if not chosen:
        return None, []
    ctx = EventContext(copy_event_data(base.event_data), base.request, base.client_name, base.variables,
                       base.info, base.now, base.rng)
    ctx.response = base.response
    applied = []
    for transformation in chosen:
        changes = transformation.apply(ctx)
        if changes is not None:
            ctx.resolved.clear()  # variables are evaluated again on the changed event data
            applied.append({"name": transformation.name, "kind": transformation.kind, "changes": changes})
    if ctx.warnings:
        base.warnings.extend(ctx.warnings)
    return ctx, applied
