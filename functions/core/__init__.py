"""Shared security core of the chat, auth and health functions.

Import submodules directly (core.http, core.auth ...): this package imports nothing itself.
"""
