"""``labelloop oracle ...``: language-model oracles from the server's shell."""

from __future__ import annotations

import argparse
import os
import sys

from app.config import Settings
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
