"""``python -m losslab``: the ``losslab`` command."""

from losslab.cli import main

main()
