"""Operations: the all-checks run, the local UI server used by the UI and browser checks, screenshots.

Nothing here defines assets; importing a module of this package does no I/O.
"""
