"""Commands whose parsed arguments become a typed struct by name: every field must be an argument
of that name, or a renamed option would leave its field at the default without a word."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from connectors.shopfloor.simulator import cli as simulator_cli
from connectors.shopfloor.simulator.run import Options
from gateway import cli as gateway_cli
from gateway.clients import Registration


def parsed(add_parser: Callable[[Any], None], argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_every_registration_field_is_an_argument_of_register_client() -> None:
    args = parsed(gateway_cli.add_parser, ["gateway", "register-client", "c-1", "--scopes", "erp:read"])
    fields = {f.name for f in msgspec.structs.fields(Registration)}
    assert fields <= vars(args).keys(), fields - vars(args).keys()


@pytest.mark.parametrize(
    ("argv", "not_asked"),
    [
        (["simulate", "machines"], set()),
        # One machine by name: how many and their prefix are not this command's to say.
        (["simulate", "command", "CNC-001", "breakdown"], {"count", "prefix"}),
    ],
)
def test_every_simulator_option_is_an_argument(argv: list[str], not_asked: set[str]) -> None:
    args = parsed(simulator_cli.add_parser, argv)
    fields = {f.name for f in dataclasses.fields(Options)} - not_asked
    assert fields <= vars(args).keys(), fields - vars(args).keys()
