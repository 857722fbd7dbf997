"""`aiagent`: the project's command line (development and operations tooling)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _cmd_dev(args: argparse.Namespace) -> int:
    from devkit.sandbox import stack as sandbox

    return sandbox.run(args.host, args.port)


def _cmd_invoke(args: argparse.Namespace) -> int:
    from devkit import defaults, syaml
    from devkit.sandbox.fc_context import FCContext, load_handler

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
    from devkit.tokens import mint_token

    secret = os.environ.get("AUTH_JWT_SECRET") or ""
    if not secret:
        secret = DEV_JWT_SECRET
        print("note: AUTH_JWT_SECRET is not set; using the sandbox's development secret", file=sys.stderr)
    if len(secret) < 32:
        print("error: AUTH_JWT_SECRET: must be at least 32 characters", file=sys.stderr)
        return 2
    max_ttl = int(os.environ.get("AUTH_JWT_MAX_TTL_SECONDS") or 86400)
    if not 1 <= args.ttl <= max_ttl:
        # The functions refuse a token that lives longer than AUTH_JWT_MAX_TTL_SECONDS.
        print(f"error: --ttl: must be between 1 and {max_ttl} seconds (AUTH_JWT_MAX_TTL_SECONDS)", file=sys.stderr)
        return 2
    if args.pii and args.role != "admin":
        print("error: --pii: only with --role admin (who may see the archive's raw text)", file=sys.stderr)
        return 2
    extra: dict[str, Any] = {"pii": True} if args.pii else {}
    print(mint_token(args.user_id, secret, args.ttl, role=args.role, **extra))
    return 0


def _cmd_configure_callbacks(args: argparse.Namespace) -> int:
    from devkit.ops import configure_callbacks

    return configure_callbacks.run(args.agent_id, args.url, token=args.token, events=args.events,
                                   audio_oss_path=args.audio_oss_path, region=args.region,
                                   allow_http=args.allow_http)


def _cmd_smoke(args: argparse.Namespace) -> int:
    from devkit.ops import smoke

    return smoke.run(args.stage, args.url)


def _cmd_simulate_call(args: argparse.Namespace) -> int:
    from devkit.sandbox import simulate_call

    return simulate_call.main(args.url, args.turns, args.timeout, video=args.video)


def _cmd_reanalyze(args: argparse.Namespace) -> int:
    from devkit.ops import reanalyze

    return reanalyze.main(args)


def _cmd_replay(args: argparse.Namespace) -> int:
    from devkit.ops import replay

    return replay.main(args)


def _cmd_redact(args: argparse.Namespace) -> int:
    from devkit.ops import redact

    return redact.main(args, sys.stdin, sys.stdout)


def _cmd_erase(args: argparse.Namespace) -> int:
    from devkit.ops import erase

    return erase.main(args)


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
    tok.add_argument("--role", choices=["admin"], help="an operations token (`role: admin`): describe any "
                                                       "instance, message tokens with role=admin")
    tok.add_argument("--pii", action="store_true", help='with --role admin: `"pii": true`, the archive API and '
                                                       "console show raw text (README \"Privacy\")")
    tok.set_defaults(func=_cmd_token)

    cc = sub.add_parser("configure-callbacks",
                        help="point an agent's ICE callbacks at this AppServer (SetNotifyConfig)")
    cc.add_argument("--agent-id", required=True)
    cc.add_argument("--url", required=True, help="the deployed .../api/v2/aiagent/callback URL")
    cc.add_argument("--token", help="callback bearer token (default: CALLBACK_TOKEN, its first entry)")
    from devkit.ops.configure_callbacks import ALL_EVENTS

    cc.add_argument("--events", default=ALL_EVENTS, help="comma-separated event types (default: all)")
    cc.add_argument("--audio-oss-path", help="OSS path where ICE writes recordings (enables recording)")
    cc.add_argument("--region", help="ICE region (default ICE_REGION)")
    cc.add_argument("--allow-http", action="store_true", help=argparse.SUPPRESS)
    cc.set_defaults(func=_cmd_configure_callbacks)

    sc = sub.add_parser("simulate-call", help="drive one whole call through a running sandbox: callbacks -> "
                                              "archive -> analysis (the tour of the product)")
    sc.add_argument("--url", default="http://127.0.0.1:9000", help="the sandbox (default http://127.0.0.1:9000)")
    sc.add_argument("--turns", type=int, default=6, help="chat records in the call (default 6)")
    sc.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each stage (default 30)")
    sc.add_argument("--video", action="store_true",
                    help="a video call started through generateAIAgentCall (VisionChat), recorded by ARTC cloud "
                         "recording: waits for its MP4 too")
    sc.set_defaults(func=_cmd_simulate_call)

    ra = sub.add_parser("reanalyze", help="run the analysis again over the archive (resumable: skips what is done)")
    ra.add_argument("--since", required=True, help="first day, YYYY-MM-DD (the dt= partition)")
    ra.add_argument("--until", help="last day, YYYY-MM-DD (default: today, UTC)")
    ra.add_argument("--profile", required=True, help="analysis profile (shared/analysis/profiles/<name>.json)")
    ra.add_argument("--concurrency", type=int, default=4, help="calls analysed at once (default 4)")
    ra.add_argument("--url", help="use a running `aiagent dev` sandbox's object store and CCAI")
    ra.add_argument("--report", help="also write the final report as JSON to this file")
    ra.set_defaults(func=_cmd_reanalyze)

    rp = sub.add_parser("replay", help="re-drive dead-lettered work once its cause is fixed (resumable: only "
                                       "open dead letters run)")
    rp.add_argument("--stage", required=True, choices=["archive", "analyze"], help="which step's dead letters")
    rp.add_argument("--since", help="first day, YYYY-MM-DD (the dt= partition; default: 30 days before --until)")
    rp.add_argument("--until", help="last day, YYYY-MM-DD (default: today, UTC)")
    rp.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
    rp.add_argument("--concurrency", type=int, default=4, help="units of work run at once (default 4)")
    rp.add_argument("--retry-delay", type=float, default=1.0,
                    help="seconds before re-running a unit the step asks to retry (default 1, growing)")
    rp.add_argument("--url", help="use a running `aiagent dev` sandbox's object store and upstreams")
    rp.add_argument("--report", help="also write the final report as JSON to this file")
    rp.set_defaults(func=_cmd_replay)

    rd = sub.add_parser("redact", help="replace personal data (ID, bank card, mobile and landline numbers, "
                                       "e-mail; typed or spoken) in each line of standard input")
    rd.add_argument("--json", action="store_true",
                    help='one JSON object a line: {"text": <redacted>, "findings": [{"kind", "start", "end"}]}')
    rd.set_defaults(func=_cmd_redact)

    er = sub.add_parser("erase", help="delete everything the archive holds for calls or a person (receipt "
                                      "under erasures/; idempotent)")
    who = er.add_mutually_exclusive_group(required=True)
    who.add_argument("--instance", nargs="+", help="agent instance ids to erase")
    who.add_argument("--user", help="a user id: every call they started, and their own records")
    er.add_argument("--since", help="first day searched, YYYY-MM-DD (default: 400 days before --until)")
    er.add_argument("--until", help="last day searched, YYYY-MM-DD (default: today, UTC)")
    er.add_argument("--dry-run", action="store_true", help="list what would be deleted; change nothing")
    er.add_argument("--by", help="who asked, for the receipt (default: the OS user)")
    er.add_argument("--url", help="use a running `aiagent dev` sandbox's object store")
    er.set_defaults(func=_cmd_erase)

    sm = sub.add_parser("smoke", help="after a deploy: check every function of a stage (HTTP URLs, FC invoke)")
    sm.add_argument("--stage", required=True, choices=["dev", "staging", "prod"])
    sm.add_argument("--url", help="API base URL (default API_BASE_URL, or https://API_DOMAIN)")
    sm.set_defaults(func=_cmd_smoke)

    from devkit.ops import seed_archive

    seed_archive.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
