"""The operations console: server-rendered pages behind a login with the gateway's tokens."""
