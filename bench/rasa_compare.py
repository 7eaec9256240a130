"""The built-in matcher against Rasa 3.6 on ``../shared/eval/dev.jsonl``, in one run.

    HELPLINE_BENCH_RASA=/opt/rasa/bin/rasa .venv/bin/python -m bench.rasa_compare
        [--eval FILE]... [--workdir DIR] [--capture DIR]

``HELPLINE_BENCH_RASA`` is the ``rasa`` executable of a Rasa 3.6 installation in a
Python 3.10 venv (docs/rasa.md says how to make one; without the variable this
prints that and exits 0). The script exports the knowledge base
(``helpline rasa export``), trains it (``rasa train nlu``), starts
``rasa run --enable-api`` on a free port on 127.0.0.1, and scores, with the matcher's
own evaluation code (``bot.nlu.evaluation``):

- ``builtin``: the built-in matcher;
- ``rasa``: helpline's Rasa backend (``HELPLINE_NLU=rasa``: our urgent detection
  first, Rasa's intent, our abstention, the built-in matcher if Rasa fails);
- ``rasa-raw``: Rasa's intent alone (``nlu_fallback`` = abstain), to show what the
  wrapping adds.

It reports top-1 accuracy, urgent recall, null items answered with a topic, language
accuracy, latency p50/p99 per message, and for both servers the start-up time (process
start to first answer) and memory (peak resident set). ``--capture DIR`` also saves
Rasa's real answers to the texts of ``tests/fixtures/rasa/`` into DIR, to compare with
(and replace) those fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from prometheus_client import REGISTRY

from bot.config import PROJECT_HOME, get_settings
from bot.nlu import Match, get_matcher
from bot.nlu.evaluation import Scores, format_table, read_items, run, score_by_language
from bot.nlu.knowledge import get_knowledge
from bot.nlu.matcher import Matcher
from bot.nlu.rasa import (
    FALLBACK_INTENT,
    RasaClient,
    RasaMatcher,
    export_project,
    intent_topics,
)
from bot.nlu.text import normalize

EVAL_FILE = PROJECT_HOME.parent / "shared" / "eval" / "dev.jsonl"
FIXTURES = PROJECT_HOME / "tests" / "fixtures" / "rasa"
MODEL = "helpline"
HEADER = f"{'backend':<10}{'top1':>7}{'urgent':>8}{'null→topic':>12}{'p50 ms':>9}{'p99 ms':>9}"
START_TIMEOUT = 600.0
TRAIN_TIMEOUT = 4 * 3600.0  # 20 min on 2 idle cores; a busy machine took over an hour

HOW_TO = """\
bench/rasa_compare.py needs a Rasa 3.6 installation; set HELPLINE_BENCH_RASA to its
`rasa` executable. Rasa 3.6 needs Python 3.8-3.10, so make a separate venv:

    python3.10 -m venv /opt/rasa
    /opt/rasa/bin/pip install --upgrade pip
    /opt/rasa/bin/pip install 'rasa==3.6.*'
    HELPLINE_BENCH_RASA=/opt/rasa/bin/rasa .venv/bin/python -m bench.rasa_compare

(no python3.10? `uv python install 3.10 && uv venv --python 3.10 /opt/rasa`, or see
docs/rasa.md). Training takes minutes rather than seconds.
"""

# Run in a fresh interpreter: what a restarted helpline pays before its first answer.
BUILTIN_PROBE = """\
import json, resource, sys
from bot.config import get_settings
from bot.nlu import get_matcher
settings = get_settings().model_copy(update={"nlu": "builtin"})
get_matcher(settings).match("waar kan ik asiel aanvragen")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak}), flush=True)
"""


@dataclass
class Server:
    startup_s: float
    peak_mb: float


def rasa_environment() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int) -> float:
    """Peak resident memory of a process and its children now alive (Linux /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
        pending.extend(int(child) for child in children)
    return total


def train(rasa: str, project: Path) -> float:
    command = [rasa, "train", "nlu", "--config", "config.yml", "--domain", "domain.yml"]
    command += ["--nlu", "data", "--out", "models", "--fixed-model-name", MODEL]
    started = time.perf_counter()
    subprocess.run(command, cwd=project, env=rasa_environment(), check=True, timeout=TRAIN_TIMEOUT)
    if not (project / "models" / f"{MODEL}.tar.gz").is_file():
        raise SystemExit(f"rasa train nlu wrote no models/{MODEL}.tar.gz")
    return time.perf_counter() - started


@contextmanager
def rasa_server(rasa: str, project: Path) -> Iterator[tuple[str, Server]]:
    """``rasa run --enable-api`` on 127.0.0.1; stopped (its process group) on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (project / "rasa-run.log").open("wb")
    command = [rasa, "run", "--enable-api", "--model", f"models/{MODEL}.tar.gz"]
    command += ["--interface", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=project,
        env=rasa_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        startup = wait_until_parsing(url, process, started)
        yield url, Server(startup, memory_mb(process.pid))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_until_parsing(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    deadline = started + START_TIMEOUT
    with httpx.Client(timeout=5.0) as http:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"rasa run exited with {process.returncode}; see rasa-run.log")
            try:
                answer = http.post(f"{url}/model/parse", json={"text": "hallo"})
                if answer.status_code == 200 and "intent" in answer.json():
                    return time.perf_counter() - started
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
    raise SystemExit(f"rasa run did not answer within {START_TIMEOUT:.0f} s")


def builtin_server() -> Server:
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", BUILTIN_PROBE],
        cwd=PROJECT_HOME,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    startup = time.perf_counter() - started
    return Server(startup, json.loads(output.splitlines()[-1])["peak_mb"])


class RawRasa:
    """Rasa's intent as the topic, nothing of helpline's around it (for comparison)."""

    def __init__(self, client: RasaClient, builtin: Matcher) -> None:
        self.client = client
        self.builtin = builtin
        self.topics = intent_topics(builtin.knowledge)

    def match(self, text: str) -> Match:
        parsed = self.client.parse(normalize(text))
        name = parsed.intent.name if parsed.intent else FALLBACK_INTENT
        topic = self.topics.get(name)
        ours = self.builtin.match(text)  # only for the language columns
        return replace(ours, topic=topic, urgent=topic == "urgent")


def capture(url: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=10.0) as http:
        for fixture in sorted(FIXTURES.glob("*.json")):
            text = json.loads(fixture.read_text(encoding="utf-8"))["text"]
            answer = http.post(f"{url}/model/parse", json={"text": text})
            answer.raise_for_status()
            body = json.dumps(answer.json(), indent=2, ensure_ascii=False) + "\n"
            (directory / fixture.name).write_text(body, encoding="utf-8")
    print(f"captured {len(list(FIXTURES.glob('*.json')))} answers in {directory}")


def fallbacks() -> float:
    return REGISTRY.get_sample_value("helpline_nlu_fallbacks_total", {"backend": "rasa"}) or 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--eval",
        type=Path,
        action="append",
        help="labelled JSON lines (repeat for several sets; one training serves them all)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the Rasa project and model here")
    parser.add_argument("--capture", type=Path, help="save Rasa's answers to the fixtures' texts")
    args = parser.parse_args(argv)

    rasa = os.environ.get("HELPLINE_BENCH_RASA", "")
    if not rasa:
        print(HOW_TO)
        return 0
    if not os.access(rasa, os.X_OK):
        print(f"HELPLINE_BENCH_RASA={rasa} is not an executable\n\n{HOW_TO}", file=sys.stderr)
        return 2

    settings = get_settings().model_copy(update={"nlu": "builtin"})
    knowledge = get_knowledge(settings)
    sets = {path: read_items(path) for path in args.eval or [EVAL_FILE]}
    builtin = get_matcher(settings)  # trains and caches the model the probe then loads
    assert isinstance(builtin, Matcher)
    builtin_start = builtin_server()

    results: dict[Path, dict[str, dict[str, Scores]]] = {}
    failed = 0.0
    with tempfile.TemporaryDirectory(prefix="helpline-rasa-") as scratch:
        project = args.workdir or Path(scratch)
        export_project(knowledge, project)
        print(f"exported {len(knowledge.topics)} topics to {project}; training ...", flush=True)
        training_s = train(rasa, project)
        with rasa_server(rasa, project) as (url, rasa_start):
            if args.capture:
                capture(url, args.capture)
            client = RasaClient(url)
            backend = RasaMatcher(knowledge, builtin, client)
            for path, items in sets.items():
                tables = {"builtin": score_by_language(run(builtin.match, items))}
                before = fallbacks()
                tables["rasa"] = score_by_language(run(backend.match, items))
                failed += fallbacks() - before
                raw = RawRasa(client, builtin)
                tables["rasa-raw"] = score_by_language(run(raw.match, items))
                results[path] = tables
            client.close()

    for path, tables in results.items():
        print(f"\n{len(sets[path])} messages from {path}\n")
        for name, table in tables.items():
            print(f"== {name}\n{format_table(table)}\n")
        print(HEADER)
        for name, table in tables.items():
            s = table["all"]
            urgent = "-" if s.urgent_recall is None else f"{s.urgent_recall:.3f}"
            null = "-" if s.null_answered is None else f"{s.null_answered:.3f}"
            print(f"{name:<10}{s.top1:>7.3f}{urgent:>8}{null:>12}{s.p50_ms:>9.2f}{s.p99_ms:>9.2f}")
    servers = {"builtin": builtin_start, "rasa": rasa_start}
    print(f"\n{'server':<10}{'start-up s':>12}{'peak MB':>10}")
    for name, server in servers.items():
        print(f"{name:<10}{server.startup_s:>12.2f}{server.peak_mb:>10.0f}")
    print(f"\nrasa train nlu: {training_s:.0f} s; Rasa failures during the run: {failed:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
