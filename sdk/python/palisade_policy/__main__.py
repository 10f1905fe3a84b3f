"""``python3 -m palisade_policy build <dir> -o <out.wasm> --wit <wit-dir>``."""

import sys

from .cli import main

sys.exit(main())
