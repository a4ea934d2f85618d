"""Fast tests of one module or node, without a whole run.
"""
