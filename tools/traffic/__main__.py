"""python -m tools.traffic --seed 1 --size 2MB --out DIR  (see generate.py)"""
import sys

from .generate import main

sys.exit(main())
