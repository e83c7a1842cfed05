"""MQTT brokers on loopback, for the embedded platform (amqtt from PyPI: no root, no apt) and for
tests and benchmarks (Debian's Mosquitto, the broker plants run)."""

from __future__ import annotations

import getpass
import shutil
import sys
from pathlib import Path

from plantbridge.processes import ChildProcess, free_port, port_open


class Broker(ChildProcess):
    """A broker process on 127.0.0.1; `kill` dies like a crash, `start` again on the same port."""

    def __init__(self, data_dir: Path, port: int | None = None, *, name: str = "mqtt") -> None:
        self.name = name
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.log_path = self.data_dir / "broker.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._launch(self.command())

    def ready(self) -> bool:
        return port_open(self.port)


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


class Mosquitto(Broker):
    """Debian's Mosquitto with persistence saved after every change, so a crash (SIGKILL) keeps the
    queued QoS 1 messages of persistent sessions; a deep queue and inflight window per client."""

    def command(self) -> list[str]:
        binary = mosquitto_binary()
        if binary is None:
            raise FileNotFoundError("no mosquitto binary (Debian: apt-get install mosquitto)")
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    # Started as root, Mosquitto would switch to its own user and lose its files.
                    f"user {getpass.getuser()}",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 1",
                    "autosave_on_changes true",
                    "max_inflight_messages 200",
                    "max_queued_messages 200000",
                    f"log_dest file {self.data_dir}/mosquitto.log",
                    "",
                ]
            )
        )
        return [binary, "-c", str(config)]


class Amqtt(Broker):
    """amqtt (pure Python, from PyPI): enough for the embedded demo's few machines."""

    def command(self) -> list[str]:
        config = self.data_dir / "amqtt.yaml"
        config.write_text(
            "\n".join(
                [
                    "listeners:",
                    "  default:",
                    "    type: tcp",
                    f"    bind: 127.0.0.1:{self.port}",
                    "plugins:",
                    "  amqtt.plugins.authentication.AnonymousAuthPlugin:",
                    "    allow_anonymous: true",
                    "",
                ]
            )
        )
        script = Path(sys.executable).with_name("amqtt")
        return [str(script), "-c", str(config)]
