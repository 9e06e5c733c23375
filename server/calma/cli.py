"""The `calma` command line."""

from __future__ import annotations

import argparse
import gc
import getpass
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from calma.config import RoomLimits, Settings
from calma.edge.caps import CapSettings
from calma.edge.slow_clients import ReadDeadlines, deadline_protocol

DATABASE_HELP = "store of record: sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: DATA_DIR/calma.sqlite3)"


def tune_garbage_collector() -> None:
    """Collect cycles less often than CPython's default (every 700 allocations).

    A hub holding thousands of connections allocates a future or two per frame
    sent; at the default threshold the collector keeps walking every live
    connection's objects, which shows up as fan-out latency spikes (measured
    with tests/bench/fanout.py at 1,500 observers). Objects made at start-up are
    frozen out of collection altogether.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    class HubServer(uvicorn.Server):
        """uvicorn, but room connections get 1001 "server shutting down" before uvicorn's own close."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()  # no new connections while we drain
            await app.state.drain()
            await super().shutdown(sockets)

    from calma.access.sandbox import sandbox_default
    from calma.app import create_app
    from calma.observability.logs import configure

    configure(args.log_level)
    try:
        limits = RoomLimits(
            max_frame_bytes=args.max_frame_bytes,
            max_document_bytes=args.max_document_bytes,
            max_connections_per_room=args.max_connections_per_room,
        )
    except ValueError as exc:
        print(f"calma serve: {exc}", file=sys.stderr)
        return 2
    from calma.interact.models import LLMConfigError, embedded_model, load_llm_config

    try:
        llm = load_llm_config(Path(args.llm_config)) if args.llm_config else embedded_model(args.model and Path(args.model))
    except LLMConfigError as exc:
        print(f"calma serve: {exc}", file=sys.stderr)
        return 2
    if args.embed_workers and not args.redis:
        print("calma serve: --embed-workers needs --redis URL (the workers take their jobs from Redis)", file=sys.stderr)
        return 2
    if args.sign_in_free_failures < 1 or not 0 < args.sign_in_delay <= args.sign_in_max_delay:
        print("calma serve: need --sign-in-free-failures >= 1 and 0 < --sign-in-delay <= --sign-in-max-delay", file=sys.stderr)
        return 2
    if min(args.sandbox_max_rooms, args.sandbox_max_room_bytes, args.sandbox_write_rate) < 1 or args.sandbox_lifetime <= 0:
        print("calma serve: the --sandbox-* limits must be positive", file=sys.stderr)
        return 2
    if not args.recheck_credentials > 0:
        print("calma serve: --recheck-credentials must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        metrics_token = _metrics_token(args.metrics_token_file)
    except (OSError, ValueError) as exc:
        print(f"calma serve: --metrics-token-file: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        static_dir=Path(args.static_dir) if args.static_dir else None,
        limits=limits,
        compact_after_updates=args.compact_after,
        log_level=args.log_level,
        sandbox_rooms=sandbox_default(args.host) if args.sandbox_rooms is None else args.sandbox_rooms,
        sandbox_rooms_explicit=args.sandbox_rooms is True,
        sandbox_max_rooms=args.sandbox_max_rooms,
        sandbox_max_room_bytes=args.sandbox_max_room_bytes,
        sandbox_room_lifetime_s=args.sandbox_lifetime,
        sandbox_write_bytes_per_s=args.sandbox_write_rate,
        secret_file=Path(args.secret_file) if args.secret_file else None,
        database_url=args.database,
        redis_url=args.redis,
        embed_workers=args.embed_workers,
        llm=llm,
        connection_caps=CapSettings(per_address=args.max_websockets_per_address, total=args.max_websockets),
        recheck_credentials_s=args.recheck_credentials,
        read_deadlines=ReadDeadlines(header_timeout_s=args.header_timeout, body_timeout_s=args.body_timeout),
        max_ab_trials_per_participant=args.max_ab_trials_per_participant,
        max_canvas_labels_per_participant=args.max_labels_per_participant,
        sign_in_free_failures=args.sign_in_free_failures,
        sign_in_base_delay_s=args.sign_in_delay,
        sign_in_max_delay_s=args.sign_in_max_delay,
        metrics_token=metrics_token,
    )
    from calma.access.secret import SecretFileError
    from calma.store import StoreError

    try:
        app = create_app(settings)
    except (SecretFileError, StoreError) as exc:
        print(f"calma serve: {exc}", file=sys.stderr)
        return 1
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # The sans-I/O implementation hands every frame that arrived before a close to the app, in order;
        # the legacy one reports the disconnect as soon as the socket drops, discarding frames it had read.
        ws="websockets-sansio",
        ws_max_size=limits.max_frame_bytes + 1024,  # bigger frames: uvicorn closes with 1009 itself
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        # Slow clients: a request's head within --header-timeout, its body within --body-timeout (calma.edge).
        http=deadline_protocol(settings.read_deadlines),
        timeout_keep_alive=5,
        # Connections and requests in all: beyond this uvicorn answers 503 (websockets are capped lower, per address too).
        limit_concurrency=settings.connection_caps.total + 1024 if settings.connection_caps.total else None,
        backlog=4096,
        timeout_graceful_shutdown=5,
    )
    tune_garbage_collector()
    HubServer(config).run()
    return 0


def _metrics_token(path: str | None) -> str | None:
    """The bearer token for /metrics: the file's first line, else $CALMA_METRICS_TOKEN, else None (loopback only)."""
    if path:
        token = Path(path).read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get("CALMA_METRICS_TOKEN", "").strip()
        if not token:
            return None
    if len(token) < 16:
        raise ValueError("the metrics token needs at least 16 characters")
    return token


def _create_facilitator(args: argparse.Namespace) -> int:
    import anyio

    from calma.access.accounts import InvalidAccount, create_facilitator
    from calma.store import StoreError
    from calma.store.factory import open_study_store
    from calma.studies.store import AlreadyExists

    password = _read_password(args.password_stdin)
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database)

    async def create() -> str:
        async with open_study_store(settings) as store:
            facilitator = await create_facilitator(store, args.email, args.name, password)
        return f"created facilitator {facilitator.email} ({facilitator.name}), id {facilitator.id}"

    try:
        print(anyio.run(create))
    except (InvalidAccount, AlreadyExists, StoreError) as exc:
        print(f"calma admin create-facilitator: {exc}", file=sys.stderr)
        return 1
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    import anyio

    from calma.access.accounts import InvalidAccount
    from calma.access.admin import AdminError, reset_password
    from calma.store import StoreError
    from calma.store.factory import build_stores
    from calma.store.sql import SQLDatabase
    from calma.store.throttle_sql import SQLFailureCounters

    password = _read_password(args.password_stdin, "reset-password")
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database)

    async def reset() -> str:
        store, studies = build_stores(settings)
        assert isinstance(store, SQLDatabase), "the study records live in a SQL store of record"
        await store.open()
        try:
            facilitator, ended = await reset_password(studies, args.email, password, SQLFailureCounters(store))
        finally:
            await store.close()
        return f"new password set for {facilitator.email}; {ended} session(s) signed out"

    try:
        print(anyio.run(reset))
    except (AdminError, InvalidAccount, StoreError) as exc:
        print(f"calma admin reset-password: {exc}", file=sys.stderr)
        return 1
    return 0


def _read_password(from_stdin: bool, command: str = "create-facilitator") -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise SystemExit(f"calma admin {command}: the passwords differ")
    return password


def _token(args: argparse.Namespace) -> int:
    import anyio

    from calma.access.admin import AdminError, issue_token, signer_for
    from calma.access.secret import SecretFileError
    from calma.store import StoreError
    from calma.store.factory import open_study_store
    from calma.studies.model import Role

    settings = Settings(
        data_dir=Path(args.data_dir),
        secret_file=Path(args.secret_file) if args.secret_file else None,
        database_url=args.database,
    )

    async def issue() -> str:
        signer = signer_for(settings.secret_path)
        async with open_study_store(settings) as store:
            issued = await issue_token(
                store,
                signer,
                study_id=args.study,
                group_id=args.group,
                role=Role(args.role),
                ttl_s=args.ttl,
                name=args.name,
            )
        expires = datetime.fromtimestamp(issued.invite.expires_at, tz=UTC).isoformat()
        who = f"participant {issued.participant.id} ({issued.participant.display_name!r})" if issued.participant else args.role
        print(f"token for {who} in study {args.study}; invite {issued.invite.id}; expires {expires}", file=sys.stderr)
        return issued.token

    try:
        print(anyio.run(issue))
    except (AdminError, SecretFileError, StoreError) as exc:
        print(f"calma admin token: {exc}", file=sys.stderr)
        return 1
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from calma.cluster.supervisor import ClusterConfig, main

    if args.nodes < 1:
        print("calma cluster: --nodes must be at least 1", file=sys.stderr)
        return 2
    config = ClusterConfig(
        nodes=args.nodes,
        port=args.port,
        host=args.host,
        data_dir=Path(args.data_dir),
        database=args.database,
        redis_port=args.redis_port,
        log_level=args.log_level,
        sandbox_rooms=args.sandbox_rooms,
    )
    return main(config)


def _embed_worker(args: argparse.Namespace) -> int:
    from calma.embeddings.worker import main

    if args.batch_size < 1:
        print("calma embed-worker: --batch-size must be at least 1", file=sys.stderr)
        return 2
    return main(args.redis, batch_size=args.batch_size, log_level=args.log_level)


def _map(args: argparse.Namespace) -> int:
    from calma.canvas.offline import run

    return run(Path(args.labels), Path(args.json) if args.json else None, Path(args.png) if args.png else None)


def _compare(args: argparse.Namespace) -> int:
    from calma.outputs.compare import run

    if not 0.0 <= args.threshold <= 1.0:
        print("calma compare: --threshold is a cosine similarity between 0 and 1", file=sys.stderr)
        return 2
    return run([Path(p) for p in args.files], args.format, args.threshold)


def _judge(args: argparse.Namespace) -> int:
    from calma.interact.models import LLMConfigError, embedded_model, load_llm_config
    from calma.outputs.judge import run

    try:
        llm = load_llm_config(Path(args.llm_config)) if args.llm_config else embedded_model(args.model and Path(args.model))
    except LLMConfigError as exc:
        print(f"calma judge: {exc}", file=sys.stderr)
        return 2
    return run(Path(args.axes), Path(args.responses), Path(args.out), llm, args.judge_model)


def _tag(args: argparse.Namespace) -> int:
    from calma.outputs.classifier import run_tag

    return run_tag(Path(args.classifiers), Path(args.input), Path(args.out))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calma", description="CALMA Studio: live deliberation server.")
    commands = parser.add_subparsers(dest="command", required=True)
    env = os.environ.get

    serve = commands.add_parser("serve", help="run the server on its embedded defaults (SQLite, one process)")
    serve.add_argument("--host", default=env("CALMA_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(env("CALMA_PORT", "8000")))
    serve.add_argument("--data-dir", default=env("CALMA_DATA_DIR", "calma-data"), help="where the SQLite store lives")
    serve.add_argument("--database", default=env("CALMA_DATABASE_URL"), help=DATABASE_HELP)
    serve.add_argument(
        "--redis",
        default=env("CALMA_REDIS_URL"),
        help="redis://HOST:PORT/DB: run as one of many hub nodes, with every room's updates in Redis streams",
    )
    serve.add_argument(
        "--embed-workers",
        action="store_true",
        help="embed with `calma embed-worker` processes over --redis instead of a model in this process",
    )
    serve.add_argument("--static-dir", default=env("CALMA_STATIC_DIR"), help="built client (default: client/dist)")
    defaults = RoomLimits()
    serve.add_argument("--max-frame-bytes", type=int, default=defaults.max_frame_bytes)
    serve.add_argument("--max-document-bytes", type=int, default=defaults.max_document_bytes)
    serve.add_argument("--max-connections-per-room", type=int, default=defaults.max_connections_per_room)
    caps, deadlines = CapSettings(), ReadDeadlines()
    serve.add_argument("--max-websockets-per-address", type=int, default=caps.per_address,
                       help="open websocket connections (rooms, /live) from one client address; 0: no cap (default %(default)s)")
    serve.add_argument("--recheck-credentials", type=float, default=Settings().recheck_credentials_s,
                       help="seconds between checks that open websockets' sessions and links still hold; those"
                       " revoked on another node or by `calma admin` close (default %(default)s)")
    serve.add_argument("--max-websockets", type=int, default=caps.total,
                       help="open websocket connections in all; 0: no cap (default %(default)s)")
    serve.add_argument("--header-timeout", type=float, default=deadlines.header_timeout_s,
                       help="seconds a client has to send a request's headers (default %(default)s)")
    serve.add_argument("--body-timeout", type=float, default=deadlines.body_timeout_s,
                       help="seconds a client has to send a request's body (default %(default)s)")
    quotas = Settings()
    serve.add_argument("--max-labels-per-participant", type=int, default=quotas.max_canvas_labels_per_participant,
                       help="labels one participant may write on their group's canvas (default %(default)s)")
    serve.add_argument("--max-ab-trials-per-participant", type=int, default=quotas.max_ab_trials_per_participant,
                       help="trials one participant may run in one A/B test (default %(default)s)")
    serve.add_argument(
        "--compact-after", type=int, default=Settings().compact_after_updates, help="updates per room before a snapshot"
    )
    serve.add_argument("--log-level", default=env("CALMA_LOG_LEVEL", "info"), choices=["debug", "info", "warning", "error"])
    sandbox = Settings()
    serve.add_argument(
        "--sandbox-rooms",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rooms outside any study (the demo page's), open to anyone; --no-sandbox-rooms refuses them (4401/4403)."
        " Default: on only when --host is loopback",
    )
    serve.add_argument("--sandbox-max-rooms", type=int, default=sandbox.sandbox_max_rooms,
                       help="sandbox rooms that may exist at once (default %(default)s)")
    serve.add_argument("--sandbox-max-room-bytes", type=int, default=sandbox.sandbox_max_room_bytes,
                       help="the largest a sandbox room may grow (default %(default)s)")
    serve.add_argument("--sandbox-lifetime", type=float, default=sandbox.sandbox_room_lifetime_s,
                       help="seconds after its last write that a sandbox room is deleted (default %(default)s)")
    serve.add_argument("--sandbox-write-rate", type=int, default=sandbox.sandbox_write_bytes_per_s,
                       help="bytes per second one client address may write to sandbox rooms (default %(default)s)")
    serve.add_argument("--secret-file", default=env("CALMA_SECRET_FILE"), help="token secret (default: DATA_DIR/secret.key)")
    serve.add_argument(
        "--metrics-token-file",
        default=env("CALMA_METRICS_TOKEN_FILE"),
        help="/metrics answers loopback clients, and others sending `Authorization: Bearer` with this file's token "
        "(or $CALMA_METRICS_TOKEN); without one, only loopback",
    )
    sign_ins = Settings()
    serve.add_argument(
        "--sign-in-free-failures", type=int, default=sign_ins.sign_in_free_failures,
        help="failed sign-ins in a row on an account before delays start (4x as many per client address; default %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--sign-in-delay", type=float, default=sign_ins.sign_in_base_delay_s,
        help="seconds of the first sign-in delay, doubling with each further failure (default %(default)s)",
    )  # fmt: skip
    serve.add_argument(
        "--sign-in-max-delay", type=float, default=sign_ins.sign_in_max_delay_s,
        help="the longest sign-in delay in seconds: how long an attacker can keep an account's owner out (default %(default)s)",
    )  # fmt: skip
    models = serve.add_mutually_exclusive_group()
    models.add_argument(
        "--model",
        default=env("CALMA_MODEL"),
        help="PATH.gguf: chat with this GGUF on the CPU (llama.cpp) instead of the packaged Gemma 3 270M stand-in",
    )
    models.add_argument(
        "--llm-config",
        default=env("CALMA_LLM_CONFIG"),
        help="FILE.toml: the models and their endpoints (vLLM, any OpenAI-compatible URL, GGUFs); deploy/vllm/README.md",
    )
    serve.set_defaults(handler=_serve)

    mapping = commands.add_parser(
        "map", help="place a list of labels on a semantic map, as the live canvas does (JSON and a picture)"
    )
    mapping.add_argument("labels", help="a text file, one label per line")
    mapping.add_argument("--json", help="write label → x, y and suggested group here (default: stdout)")
    mapping.add_argument("--png", help="write a picture of the map here")
    mapping.set_defaults(handler=_map)

    comparing = commands.add_parser(
        "compare", help="align two or more groups' derived axes by meaning (files in shared_schema/derived-axes.schema.json)"
    )
    comparing.add_argument("files", nargs="+", metavar="AXES.json", help="derived-axes files (names and definitions suffice)")
    comparing.add_argument("--format", choices=["md", "json"], default="md", help="Markdown tables (default) or JSON")
    comparing.add_argument("--threshold", type=float, default=0.5,
                           help="below this cosine similarity a pair is not a counterpart (default 0.5)")
    comparing.set_defaults(handler=_compare)

    judging = commands.add_parser("judge", help="score model responses on every derived axis with an LLM judge")
    judging.add_argument("--axes", required=True, help="a derived-axes file (GET …/outputs/axes.json)")
    judging.add_argument("--responses", required=True, help="JSONL: one {id?, prompt, response} per line")
    judging.add_argument("--out", required=True, help="JSONL of scores: one {id, axis, score, raw, model} per line")
    judge_models = judging.add_mutually_exclusive_group()
    judge_models.add_argument("--model", default=env("CALMA_MODEL"), help="PATH.gguf judge on the CPU (default: the packaged model)")
    judge_models.add_argument("--llm-config", default=env("CALMA_LLM_CONFIG"), help="FILE.toml of models and endpoints (vLLM, …)")
    judging.add_argument("--judge-model", help="which configured model judges (default: the first)")
    judging.set_defaults(handler=_judge)

    tagging = commands.add_parser("tag", help="tag model outputs with the axes they are likely about (trained classifiers)")
    tagging.add_argument("--classifiers", required=True, help="GET …/outputs/classifiers.json")
    tagging.add_argument("--in", dest="input", required=True, help="JSONL: one {text} or {response} per line")
    tagging.add_argument("--out", required=True, help="JSONL: each line with `axes` (tags) and `scores` (probabilities)")
    tagging.set_defaults(handler=_tag)

    cluster = commands.add_parser(
        "cluster", help="run redis-server, N hub nodes and a room-hashing router on this machine (demos, tests)"
    )
    cluster.add_argument("--nodes", type=int, default=2, help="hub nodes to start (default 2)")
    cluster.add_argument("--host", default="127.0.0.1", help="the router's address")
    cluster.add_argument("--port", type=int, default=8000, help="the router's port (default 8000)")
    cluster.add_argument("--data-dir", default="calma-cluster", help="Redis's AOF and the shared SQLite store")
    cluster.add_argument("--database", default=env("CALMA_DATABASE_URL"), help=DATABASE_HELP)
    cluster.add_argument("--redis-port", type=int, help="the private redis-server's port (default: a free one)")
    cluster.add_argument("--log-level", default=env("CALMA_LOG_LEVEL", "info"), choices=["debug", "info", "warning", "error"])
    cluster.add_argument("--sandbox-rooms", action=argparse.BooleanOptionalAction, default=None,
                         help="sandbox rooms on every node (default: only when --host is loopback)")
    cluster.set_defaults(handler=_cluster)

    embed_worker = commands.add_parser(
        "embed-worker", help="embed texts for hub nodes started with --embed-workers: one model, jobs from Redis"
    )
    embed_worker.add_argument(
        "--redis",
        required=not env("CALMA_REDIS_URL"),
        default=env("CALMA_REDIS_URL"),
        help="redis://HOST:PORT/DB: the hub nodes' Redis, where they queue their jobs",
    )
    embed_worker.add_argument(
        "--batch-size", type=int, default=64, help="most texts in one model call, from every job queued (default 64)"
    )
    embed_worker.add_argument("--log-level", default=env("CALMA_LOG_LEVEL", "info"), choices=["debug", "info", "warning", "error"])
    embed_worker.set_defaults(handler=_embed_worker)

    admin = commands.add_parser("admin", help="manage accounts and tokens in a data dir (the server may be running)")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)

    create = admin_commands.add_parser("create-facilitator", help="create a facilitator account")
    create.add_argument("--data-dir", default=env("CALMA_DATA_DIR", "calma-data"))
    create.add_argument("--database", default=env("CALMA_DATABASE_URL"), help=DATABASE_HELP)
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    create.set_defaults(handler=_create_facilitator)

    reset = admin_commands.add_parser(
        "reset-password", help="set a facilitator's password and sign them out everywhere (lifts a sign-in delay)"
    )
    reset.add_argument("--data-dir", default=env("CALMA_DATA_DIR", "calma-data"))
    reset.add_argument("--database", default=env("CALMA_DATABASE_URL"), help=DATABASE_HELP)
    reset.add_argument("--email", required=True)
    reset.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    reset.set_defaults(handler=_reset_password)

    token = admin_commands.add_parser("token", help="print a token usable as ?token= or `Authorization: Bearer`")
    token.add_argument("--data-dir", default=env("CALMA_DATA_DIR", "calma-data"))
    token.add_argument("--database", default=env("CALMA_DATABASE_URL"), help=DATABASE_HELP)
    token.add_argument("--secret-file", default=env("CALMA_SECRET_FILE"), help="token secret (default: DATA_DIR/secret.key)")
    token.add_argument("--study", required=True, help="the study's id")
    token.add_argument("--group", help="the group's id (required for participant and observer)")
    token.add_argument("--role", required=True, choices=["participant", "observer", "facilitator"])
    token.add_argument("--ttl", type=int, default=24 * 3600, help="seconds the token is valid (default: a day)")
    token.add_argument("--name", default="participant", help="participant: the display name to create or reuse")
    token.set_defaults(handler=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
