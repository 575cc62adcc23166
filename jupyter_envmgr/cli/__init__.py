"""`envmgr` / `jupyter envmgr`: argument parsing and rendering over the engine, nothing more."""
