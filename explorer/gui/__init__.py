"""The desktop app: Qt widgets only. Every torch call goes through ``explorer.worker``."""
