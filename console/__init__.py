"""The composition root: the app factory, the command line and the serving configuration.

Nothing of the console imports this package; it imports every subsystem.
"""
