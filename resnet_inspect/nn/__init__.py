"""The torch side: everything that imports torch lives here and is imported only when used.

``usercode`` imports and calls the user's model-building code; ``trace`` (with ``shapes``) runs one
forward pass on the meta device and records what every op did. The pure core (``structure``,
``plan``, ``counts``) turns that record into the same plan and numbers as a spec.

``builder`` builds the real module for a spec; ``verify`` checks the analytic counts against it and
fvcore; ``bench`` times it; ``memory`` measures what its training forward saves; ``checkpoint``
holds ``inspect``'s one ``torch.load``.

The core reaches this package only through imports inside functions (``tests/test_torch_boundary.py``
lists which), so ``summary`` never loads torch; nothing here imports the CLI.
"""
