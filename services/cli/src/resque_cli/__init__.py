"""``resque``: the admin command line, on resque_proto only."""
