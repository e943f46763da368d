#!/bin/bash
# The A/B script of the runs from 2026-11-30k to 2026-12-01: the same order every round. It is
# bench/ab.sh now, which rotates the order unless told --fixed-order (see there, and
# bench/runs/2026-12-01b/results.txt for why).
exec "$(dirname "$0")/../../ab.sh" --fixed-order "$@"
