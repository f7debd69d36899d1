"""Duplicate keys in a YAML mapping: Alertmanager's YAML decoder refuses them.

PyYAML silently keeps the last one, which would let a config that
Alertmanager rejects load here with a different meaning.
"""

from __future__ import annotations

import yaml

from tocsin.errors import ConfigProblem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def duplicate_keys(text: str, file: str) -> list[ConfigProblem]:
    """One problem per repeated key, at the line of the repetition."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return []  # syntax errors are reported by the loader itself
    problems: list[ConfigProblem] = []
    stack: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                here = f"{path}.{key}" if path else str(key)
                if key in seen:
                    problems.append(
                        ConfigProblem(
                            file,
                            key_node.start_mark.line + 1,
                            here,
                            f"key {key!r} already set in this mapping "
                            f"(line {seen[key]}); Alertmanager refuses duplicate keys",
                        )
                    )
                else:
                    seen[key] = key_node.start_mark.line + 1
                stack.append((value_node, here))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    return sorted(problems, key=lambda p: p.line or 0)
