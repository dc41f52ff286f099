"""The web page: status, downloads (Starlette)."""
