"""The sub-commands, grouped by what they act on; ``resque_cli.cli`` registers them."""
