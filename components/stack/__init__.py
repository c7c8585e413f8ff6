"""A stack as a whole: its settings composed of the sections, the preflight, and the one adapter to Pulumi's engine."""
