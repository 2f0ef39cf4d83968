"""Command-line plumbing shared by the tools/ oracle scripts (imported as `_common`: each script's
own directory is on sys.path when it runs as `.venv/bin/python tools/<script>.py`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def make_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser whose --help prints the script's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_paths(parser: argparse.ArgumentParser, **helps: str) -> None:
    """Required path options, one per keyword: `add_paths(p, model="checkpoint")` adds --model PATH."""
    for name, text in helps.items():
        parser.add_argument(f"--{name}", required=True, type=Path, help=text or None)


def require_files(*paths: Path) -> None:
    """Exits with `error: PATH not found` for the first path that does not exist."""
    for path in paths:
        if not path.exists():
            sys.exit(f"error: {path} not found")


# The inputs of the loss oracles (loss_ref, loss_ref_upstream, bench_train_ref), for add_paths.
LOSS_INPUTS = {
    "model": "base checkpoint directory",
    "adapter": "PEFT adapter + security components dir",
    "batch": "batch JSON (right padded)",
}


def require_loss_inputs(args: argparse.Namespace) -> None:
    """require_files for the LOSS_INPUTS: the model's config, the adapter's config, the batch."""
    require_files(args.model / "config.json", args.adapter / "adapter_config.json", args.batch)
