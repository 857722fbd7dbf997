"""`aiagent`: the project's command line (development and operations tooling)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _cmd_dev(args: argparse.Namespace) -> int:
    from devkit import sandbox

    return sandbox.run(args.host, args.port)


def _cmd_invoke(args: argparse.Namespace) -> int:
    from devkit import defaults, syaml
    from devkit.fc_context import FCContext, load_handler

    specs = syaml.functions()
    spec = specs.get(args.function) or next((s for s in specs.values() if s.function_name == args.function), None)
    if spec is None:
        print(f"error: unknown function {args.function!r}; known: {', '.join(sorted(specs))}", file=sys.stderr)
        return 2
    if not args.no_defaults:
        defaults.apply()
    event = sys.stdin.buffer.read() if args.event == "-" else Path(args.event).read_bytes()
    handler = load_handler(spec)
    result = handler(event, FCContext.for_function(spec))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    from devkit.defaults import DEV_JWT_SECRET
    from shared.auth import mint_token

    secret = os.environ.get("AUTH_JWT_SECRET") or ""
    if not secret:
        secret = DEV_JWT_SECRET
        print("note: AUTH_JWT_SECRET is not set; using the sandbox's development secret", file=sys.stderr)
    if len(secret) < 32:
        print("error: AUTH_JWT_SECRET: must be at least 32 characters", file=sys.stderr)
        return 2
    if not 1 <= args.ttl <= 30 * 86400:
        print("error: --ttl: must be between 1 and 2592000 seconds", file=sys.stderr)
        return 2
    print(mint_token(args.user_id, secret, args.ttl))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aiagent", description="AICall AppServer tooling")
    sub = p.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="serve every function of s.yaml locally (the sandbox)")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=9000)
    dev.set_defaults(func=_cmd_dev)

    inv = sub.add_parser("invoke", help="run one function's handler with an event file (like `s local invoke`)")
    inv.add_argument("function", help="resource key in s.yaml (e.g. get_rtc_auth_token) or FC function name")
    inv.add_argument("--event", required=True, help="event file, or - for stdin")
    inv.add_argument("--no-defaults", action="store_true", help="do not fill in the embedded development defaults")
    inv.set_defaults(func=_cmd_invoke)

    tok = sub.add_parser("token", help="mint a development client JWT (AUTH_MODE=jwt) with AUTH_JWT_SECRET")
    tok.add_argument("--user-id", required=True)
    tok.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    tok.set_defaults(func=_cmd_token)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
