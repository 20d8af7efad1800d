"""Headstart's test plugin: small torch modules as a source and a task, installed like any plugin."""
