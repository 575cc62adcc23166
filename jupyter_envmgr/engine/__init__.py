"""The engine: every operation on environments, with no Jupyter import.

Faces (the CLI, the server, the kernels) call into these modules and render their events.
"""
