"""The embedded platform: a real Redis, every service as its own process, SQLite files."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from plantbridge.processes import RedisServer, ServiceProcess
from plantbridge.services import SERVICES, Service


def service_env(service: Service, data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {f"{service.env_prefix}_REDIS_URL": redis_url}
    if service.uses_database:
        env[f"{service.env_prefix}_DATABASE_URL"] = (
            f"sqlite+aiosqlite:///{data_dir.resolve()}/{service.name}.db"
        )
    return env


def run_platform(data: str, *, demo: bool, only: list[str], redis_port: int) -> int:
    data_dir = Path(data)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in SERVICES if not only or s.name in only]
    redis = RedisServer(data_dir / "redis", port=redis_port)
    processes: list[ServiceProcess] = []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        redis.start()
        print(f"redis        {redis.url}  (append-only files in {redis.data_dir})", flush=True)
        for service in chosen:
            process = ServiceProcess(
                service.name,
                service_env(service, data_dir, redis.url),
                port=service.port,
                log_path=logs / f"{service.name}.log",
            )
            processes.append(process)
            process.start(timeout=60)
            print(f"{service.name:<12} {process.url}/{service.name}/v1  (log {process.log_path})", flush=True)
        if demo:
            from plantbridge.demo import load_demo

            load_demo({p.name: p.url for p in processes})
        print("Plantbridge is up. Ctrl-C stops everything.", flush=True)
        while not stop.wait(1.0):
            for process in processes:
                if process.process is not None and process.process.poll() is not None:
                    print(
                        f"{process.name} exited with {process.process.returncode}; see {process.log_path}",
                        file=sys.stderr,
                        flush=True,
                    )
                    stop.set()
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"platform failed to start: {exc}", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            process.stop()
        redis.stop()
        print("stopped.", flush=True)
