"""Talking to the databases: engines and request sessions, time limits, reads, binary values,
the app's own exceptions. Nothing of the pages: the layers above pass in what they know.
"""
