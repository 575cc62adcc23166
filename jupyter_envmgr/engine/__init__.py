"""The engine: every operation on environments, with no Jupyter import.

Faces (CLI, server, magics, widgets) call into these modules and render their events.
"""
