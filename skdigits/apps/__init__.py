"""The applications: the command line, the web page and its JSON API, and the evaluation plots.

The public names are imported from :mod:`skdigits`.
"""
