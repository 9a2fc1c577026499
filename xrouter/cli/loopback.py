"""Run a command inside a private network namespace that holds only loopback.

Use it for anything that starts Ray on one machine (verl training, Ray tests, benchmarks): Ray then
listens on, and talks over, 127.0.0.1 only, instead of every interface of the machine. The command
sees the same files, users and processes; only the network is private, so servers it needs (a replay
provider, a model server) must be started inside it too. Fails with one line when namespaces are not
available; XROUTER_RAY_NETNS=0 runs the command unchanged on the machine's network instead.

  xrouter loopback -- python -m verl.trainer.main_ppo ...
"""

from __future__ import annotations

import argparse
import os
import shutil

from xrouter.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `xrouter loopback`."""
    parser.add_argument(
        "--ray-home",
        action="store_true",
        help="also point HOME at a fresh folder with Ray's local-provider bootstrap file and turn Ray usage stats off",
    )
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command and its arguments")


def run(args: argparse.Namespace) -> int:
    """Enter the namespace, then replace this process with the command."""
    from xrouter.netns import enter_private_network, ray_offline_env

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise UsageError("give the command to run after --, e.g. xrouter loopback -- ray status")
    if shutil.which(argv[0]) is None:
        raise UsageError(f"command not found: {argv[0]}")
    enter_private_network()
    env = ray_offline_env() if args.ray_home else dict(os.environ)
    os.execvpe(argv[0], argv, env)
    return 0  # not reached
