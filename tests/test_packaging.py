"""Packaging: every Python package is listed in setup.cfg, models are package data."""

from __future__ import annotations

import configparser
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser


def test_every_package_is_listed():
    listed = set(setup_cfg()["options"]["packages"].split())
    found = set(find_packages(REPO, include=["debvader_euclid*", "data_generation*"]))
    found.add("debvader_euclid.trained_models")  # mapped from the top-level trained_models/
    assert listed == found


def test_trained_models_map_to_the_package():
    options = setup_cfg()["options"]
    assert options["package_dir"].split() == [
        "debvader_euclid.trained_models",
        "=",
        "trained_models",
    ]
    data = setup_cfg()["options.package_data"]["debvader_euclid.trained_models"].split()
    for pattern in (
        "*/*/config.json",
        "*/*/*.h5",
        "*/*/flux_errors.json",
        "*/SHA256SUMS",
        "*/README.md",
    ):
        assert pattern in data


def test_console_script():
    scripts = setup_cfg()["options.entry_points"]["console_scripts"]
    assert "debvader-euclid = debvader_euclid.cli:main" in scripts
