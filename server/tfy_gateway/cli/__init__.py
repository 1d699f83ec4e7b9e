"""The `tfy-gateway` command: one module per subcommand, each exposing `register(subparsers)`."""
