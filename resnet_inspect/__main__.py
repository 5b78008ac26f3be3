"""``python -m resnet_inspect``."""

from resnet_inspect.cli import main

main()
