"""Header-only definitions (Linux's include/): constants and inline helpers shared by layers.

Nothing here imports hilnic.net: a lower file takes what it needs from the header, as a C
file includes it, instead of importing the upper file that once defined it.
"""
