"""``resque`` (the console script) and ``python -m resque_cli``."""

from __future__ import annotations

from resque_cli.cli import cli


def main() -> None:
    cli(prog_name="resque")


if __name__ == "__main__":
    main()
