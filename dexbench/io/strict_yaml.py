"""YAML as PyYAML's safe loader reads it, except that a key given twice in one mapping is an error.

PyYAML keeps the last of duplicate keys without a word, so a config with `part_adversarial: 1.0` inserted above its
existing `part_adversarial: 0.5` trains with 0.5, and a method card with two `name:` lines means the last one."""

from __future__ import annotations

from typing import Any

import yaml


class _StrictSafeLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden by the mapping's own keys
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base constructor raises its own error for it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first given on line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def safe_load_strict(text: str) -> Any:
    """`yaml.safe_load`, refusing duplicate keys (a `yaml.YAMLError`, naming the key and both lines)."""
    return yaml.load(text, Loader=_StrictSafeLoader)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line saying what is wrong and where: PyYAML's messages start with the context ("while constructing a
    mapping"), and the problem itself comes later."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1})" if mark is not None else exc.problem
    return str(exc).replace("\n", " ")
