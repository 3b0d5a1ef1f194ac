"""``python -m newtonglm``: the command line (``fit``, ``demo``)."""

from newtonglm.cli import main

raise SystemExit(main())
