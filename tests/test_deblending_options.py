"""The deblending options shared by evaluate, deblend and calibrate-errors."""

from __future__ import annotations

import argparse

import pytest

from debvader_euclid.cli import build_parser
from debvader_euclid.deblending_options import (
    NEIGHBOUR_CHOICES,
    add_deblending_options,
    deblending_option_words,
)
from debvader_euclid.neighbours import NEIGHBOUR_MODES


def test_the_choices_are_the_deblenders() -> None:
    assert NEIGHBOUR_CHOICES == NEIGHBOUR_MODES


@pytest.mark.parametrize(
    "words",
    [[], ["--symmetrize"], ["--neighbours", "check", "--refine"], ["--symmetrize", "--refine"]],
)
def test_the_recorded_words_give_back_the_same_options(words: list[str]) -> None:
    parser = argparse.ArgumentParser()
    add_deblending_options(parser, prefix="p: ", noise_note=" (n)")
    args = parser.parse_args(words)
    assert deblending_option_words(args) == words
    assert parser.parse_args(deblending_option_words(args)) == args


@pytest.mark.parametrize("command", ["evaluate", "deblend", "calibrate-errors"])
def test_every_deblending_command_has_the_three_options(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        command
    ]
    options = {s for a in sub._actions for s in a.option_strings}
    assert {"--symmetrize", "--neighbours", "--refine"} <= options
    with pytest.raises(SystemExit):
        sub.parse_args(["--neighbours", "remove"])
