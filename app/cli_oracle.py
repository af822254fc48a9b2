"""``labelloop oracle ...``: a project's oracles from the server's shell (list, add, stats,
remove; audited with the actor ``cli``), and the local language model's server."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app import cli_users
from app.audit.service import CLI
from app.config import Settings
from app.errors import Invalid
from app.oracles import service
from app.oracles.local import (
    DEFAULT_CONTEXT,
    DEFAULT_PORT,
    MODEL_ALIAS,
    LocalModelMissing,
    LocalServer,
    check_server_installed,
    exec_server,
    model_file,
)
from app.oracles.schemas import OracleIn
from app.projects.service import get_project

MODEL_DIR = "oracle"  # under the data directory


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve-local",
        help="serve the packaged Gemma 3 270M model with llama.cpp (OpenAI-compatible API)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--threads", type=int, default=None, help="default: half the cores")
    serve.add_argument("--context", type=int, default=DEFAULT_CONTEXT, help="tokens")
    serve.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=None,
        help="require the API key held by this environment variable from every client",
    )
    serve.set_defaults(oracle_func=serve_local)
    _project_parsers(sub)


def _project_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="a project's oracles, their budgets and use")
    p.add_argument("project_id", type=int)
    p.set_defaults(oracle_func=_in_transaction(oracle_list))
    p = sub.add_parser("add", help="add an oracle to a project")
    p.add_argument("project_id", type=int)
    p.add_argument("name")
    p.add_argument("--kind", choices=["openai", "http"], default="openai")
    p.add_argument("--url", required=True, help="openai: the base URL up to /v1; http: the URL")
    p.add_argument("--model", help="openai: the model to ask")
    p.add_argument("--api-key-env", metavar="NAME", help="the variable holding the API key")
    p.add_argument("--response-format", default=None, help="openai: see the API docs")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--budget-calls", type=int, default=None)
    p.add_argument("--budget-tokens", type=int, default=None)
    p.add_argument("--cost-per-1k-tokens", type=float, default=None)
    p.set_defaults(oracle_func=_in_transaction(oracle_add))
    for name, func, text in (
        ("stats", oracle_stats, "how far the oracle can be trusted, as measured"),
        ("remove", oracle_remove, "remove an oracle and its suggestions"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("project_id", type=int)
        p.add_argument("oracle_id", type=int)
        p.set_defaults(oracle_func=_in_transaction(func))


def _in_transaction(
    command: Callable[[Session, argparse.Namespace, Settings], None],
) -> Callable[[argparse.Namespace, Settings], int]:
    def run_it(args: argparse.Namespace, settings: Settings) -> int:
        return cli_users.run(lambda session, a: command(session, a, settings), settings, args)

    return run_it


def oracle_list(session: Session, args: argparse.Namespace, settings: Settings) -> None:
    for o in service.list_oracles(session, get_project(session, args.project_id)):
        budget = f"{o.calls_used}/{o.budget_calls if o.budget_calls is not None else '-'} calls"
        state = "on" if o.enabled else "off"
        print(f"{o.id}\t{o.name}\t{o.kind}\t{state}\t{budget}\t{o.tokens_used} tokens")


def oracle_add(session: Session, args: argparse.Namespace, settings: Settings) -> None:
    project = get_project(session, args.project_id)
    config: dict[str, object] = {"api_key_env": args.api_key_env}
    if args.kind == "openai":
        config |= {"base_url": args.url, "model": args.model}
        if args.response_format:
            config["response_format"] = args.response_format
    else:
        config["url"] = args.url
    try:
        data = OracleIn(
            name=args.name,
            kind=args.kind,
            config={k: v for k, v in config.items() if v is not None},
            concurrency=args.concurrency,
            budget_calls=args.budget_calls,
            budget_tokens=args.budget_tokens,
            cost_per_1k_tokens=args.cost_per_1k_tokens,
        )
    except ValidationError as exc:
        raise Invalid(str(exc.errors()[0]["msg"])) from None
    oracle = service.add_oracle(session, project, data, actor=CLI, allowed=settings.oracle_hosts)
    print(f"added oracle {oracle.id} ({oracle.name!r}) to project {project.id}")


def oracle_stats(session: Session, args: argparse.Namespace, settings: Settings) -> None:
    from app.oracles.endpoints import stats

    project = get_project(session, args.project_id)
    report = stats(session, project, service.get_oracle(session, project, args.oracle_id))
    print(report.model_dump_json(indent=2))


def oracle_remove(session: Session, args: argparse.Namespace, settings: Settings) -> None:
    project = get_project(session, args.project_id)
    service.remove_oracle(
        session, project, service.get_oracle(session, project, args.oracle_id), actor=CLI
    )
    print(f"removed oracle {args.oracle_id} from project {project.id}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        code: int = args.oracle_func(args, settings)
    except LocalModelMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


def serve_local(args: argparse.Namespace, settings: Settings) -> int:
    """Assemble the model file once into the data directory, then become the server."""
    api_key = None
    if args.api_key_env is not None:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"error: the environment variable {args.api_key_env} is unset", file=sys.stderr)
            return 2
    check_server_installed()
    model = model_file(settings.data_dir / MODEL_DIR)
    server = LocalServer(
        model, host=args.host, port=args.port, threads=args.threads, context=args.context
    )
    print(
        f"serving {MODEL_ALIAS} from {model} at {server.base_url} "
        f"(OpenAI-compatible; model name {MODEL_ALIAS!r})",
        flush=True,
    )
    exec_server(server, api_key)
    return 0  # not reached: the server has replaced this process
