"""The application layer: one module per use case; adapters (cli/, serve/) call only zkreg.api / zkreg.app."""
