"""``python -m sitescim.cli``, as the ``sitescim`` console script."""

from sitescim.cli import main

main()
