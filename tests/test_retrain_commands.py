"""The commands a shipped model's README lists are the ones `make retrain-<name>` runs.

Each ``trained_models/<name>/README.md`` opens its "How it was made" code block with
``make retrain-<name>`` and then lists the commands; the Makefile target runs them with
``$(VENV)/bin/``, ``$(DATA)`` and ``$(MODELS)`` in place of the defaults. When a training
step is added to one and not the other, this fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NUMBERS = "one two three four five six seven eight nine ten eleven twelve".split()
NUMBERS += "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()


def _number_word(n: int) -> str:
    if n <= 20:
        return NUMBERS[n - 1]
    tens, units = divmod(n, 10)
    word = {2: "twenty", 3: "thirty"}[tens]
    return word if units == 0 else f"{word}-{NUMBERS[units - 1]}"


def makefile_commands(target: str) -> list[str]:
    """The recipe of ``target`` with the Makefile's variables at their defaults.

    ``$(MAKE) other ...`` is replaced by ``other``'s own commands when they are all
    ``debvader-euclid`` commands (``calibrate-analytic``), and written ``make other``
    otherwise (``model-checksums``, a shell loop).
    """
    lines = (REPO / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"{target}:")))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        command = line.strip()
        command = command.replace("$(VENV)/bin/", "").replace("$(DATA)", "data")
        command = command.replace("$(MODELS)", "trained_models")
        sub_make = re.match(r"^\$\(MAKE\) (\S+)", command)
        if sub_make:
            inner = makefile_commands(sub_make.group(1))
            if all(c.startswith("debvader-euclid ") for c in inner):
                commands.extend(inner)
                continue
            command = f"make {sub_make.group(1)}"
        commands.append(command)
    return commands


def readme_commands(name: str) -> tuple[str, list[str]]:
    """The first line and the commands of the README's ``make retrain-<name>`` block."""
    text = (REPO / "trained_models" / name / "README.md").read_text()
    block = re.search(r"```\n(make retrain-" + name + r".*?)\n```", text, re.S)
    assert block, f"trained_models/{name}/README.md has no `make retrain-{name}` code block"
    first, *commands = block.group(1).splitlines()
    return first, commands


@pytest.mark.parametrize("name", ["analytic", "realistic"])
def test_readme_lists_the_makefile_commands(name):
    first, commands = readme_commands(name)
    assert commands == makefile_commands(f"retrain-{name}")
    assert f"runs the {_number_word(len(commands))} commands below" in first


def test_number_words():
    assert _number_word(8) == "eight"
    assert _number_word(26) == "twenty-six"
