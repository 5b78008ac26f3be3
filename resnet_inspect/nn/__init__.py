"""The torch side: everything that imports torch lives here and is imported only when used.

``usercode`` imports and calls the user's model-building code; ``trace`` runs one forward pass on
the meta device and records what every op did. The pure core (``structure``, ``plan``, ``counts``)
turns that record into the same plan and numbers as a spec.
"""
