"""A team's job modules, baked into its own worker image (see ../Dockerfile)."""
