"""``python -m ollamalib_cli``: the same as the ``ollamalib`` command."""

from .main import main

raise SystemExit(main())
