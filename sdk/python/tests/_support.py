"""Puts the SDK on sys.path so the tests run from a checkout without installing it."""

import os
import sys

SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if SDK not in sys.path:
    sys.path.insert(0, SDK)
