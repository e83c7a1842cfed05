"""`plantbridge simulate machines ...` and `plantbridge simulate command ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
from asyncua.client.client import Client

from connectors.shopfloor.simulator import sparkplug_edge
from connectors.shopfloor.simulator.opcua_server import endpoint
from connectors.shopfloor.simulator.run import Options, Workload, broker_address, machine_map, transport


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "simulate", help="simulated machines over OPC UA, Sparkplug B or JSON topics"
    )
    sub = parser.add_subparsers(dest="simulate_command", required=True)
    machines = sub.add_parser("machines", help="run N machines until stopped (Ctrl-C)")
    _protocol(machines)
    machines.add_argument("--count", type=int, default=1, help="how many machines")
    machines.add_argument("--prefix", default="CNC", help="machine names: <prefix>-001, <prefix>-002, ...")
    machines.add_argument("--parts-per-second", type=float, default=1.0, help="over all running machines")
    machines.add_argument(
        "--changes-per-second", type=float, default=0.0, help="state changes, over all machines"
    )
    machines.add_argument(
        "--breakdown-share", type=float, default=0.0, help="share of changes that are breakdowns"
    )
    machines.add_argument(
        "--map", type=Path, help="write the connector's machine map (TOML) for these machines"
    )
    machines.add_argument("--seed", type=int, default=None)
    command = sub.add_parser("command", help="make one machine break down or recover, through its protocol")
    command.add_argument("machine", help="its name, e.g. CNC-001")
    command.add_argument("action", choices=("breakdown", "recover"))
    command.add_argument("--alarm", default="", help="the alarm of a breakdown")
    _protocol(command)


def _protocol(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", choices=("opcua", "sparkplug", "json"), default="sparkplug")
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker (sparkplug, json)")
    parser.add_argument("--group", default="PLANT1", help="Sparkplug group id")
    parser.add_argument("--node", default="edge-1", help="Sparkplug edge node id")
    parser.add_argument(
        "--primary-host", default="plantbridge", help="Sparkplug host id to wait for ('' none)"
    )
    parser.add_argument(
        "--topic-prefix", default="plant/machines", help="JSON topics: <prefix>/<machine>/status"
    )
    parser.add_argument("--opcua-port", type=int, default=4840, help="OPC UA server port")


def _options(args: argparse.Namespace) -> Options:
    # Each field from the argument of its name (checked against its type); one absent keeps its default.
    return msgspec.convert(args, Options, from_attributes=True)


def run(args: argparse.Namespace) -> int:
    if args.simulate_command == "machines":
        return asyncio.run(_machines(args))
    return asyncio.run(_command(args))


async def _machines(args: argparse.Namespace) -> int:
    simulated = transport(_options(args))
    await simulated.start()
    if args.map:
        args.map.write_text(machine_map(simulated))
    names = ", ".join(list(simulated.machines)[:5]) + (" ..." if len(simulated.machines) > 5 else "")
    print(f"{len(simulated.machines)} machines over {args.protocol}: {names}", file=sys.stderr, flush=True)
    workload = Workload(args.parts_per_second, args.changes_per_second, args.breakdown_share)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    driving = asyncio.create_task(
        workload.drive(list(simulated.machines.values()), simulated.publish, random.Random(args.seed))
    )
    await stop.wait()
    driving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await driving
    await simulated.stop()
    return 0


async def _command(args: argparse.Namespace) -> int:
    """Through the machine's own protocol, as an operator panel or an edge HMI would."""
    if args.protocol == "opcua":
        async with Client(endpoint(args.opcua_port)) as client:
            ns = await client.get_namespace_index("urn:plantbridge:simulator")
            machine = client.get_node(f"ns={ns};s={args.machine}")
            method = f"{ns}:{'Breakdown' if args.action == 'breakdown' else 'Recover'}"
            await (
                machine.call_method(method, args.alarm)
                if args.action == "breakdown"
                else machine.call_method(method)
            )
        return 0
    host, port = broker_address(args.mqtt)
    async with aiomqtt.Client(host, port, identifier=f"sim-command-{random.getrandbits(32):08x}") as client:
        if args.protocol == "json":
            payload = json.dumps({"command": args.action, "alarm": args.alarm}).encode()
            await client.publish(f"{args.topic_prefix}/{args.machine}/command", payload, qos=1)
        else:
            topic = f"spBv1.0/{args.group}/DCMD/{args.node}/{args.machine}"
            await client.publish(topic, sparkplug_edge.dcmd(args.action, args.alarm), qos=1)
    return 0
