"""The AICall AppServer's common package: what two or more functions use.

Each module owns one fact (see docs/architecture in README). Modules here import
only what they need so a function's cold start stays small.
"""
