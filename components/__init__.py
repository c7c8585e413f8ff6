"""The program's parts, one folder per concern.

edge/, mesh/ and gke/ each hold their settings, their rules and their Pulumi component; core/ holds what they share;
stack/ composes them into a stack's settings and preflight, and owns the one adapter to the Pulumi engine. Only the
`component.py` modules and `stack/engine.py` import Pulumi.
"""
