"""The jupyter_server extension: REST handlers and long operations as tasks."""
