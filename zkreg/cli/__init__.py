"""The command-line adapter: parse, call `zkreg.api`, render (Rich on a terminal, one JSON document with --json)."""
