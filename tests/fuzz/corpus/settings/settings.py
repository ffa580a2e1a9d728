"""Settings, as the reference generator writes them."""
from dataclasses import dataclass

@dataclass(frozen=True)
class DateWindow:
    start: str
    end: str

SEED = 123
NUM_REPS = 30
NUM_ACCOUNTS = 70
NUM_OPPORTUNITIES = 100
PRODUCTS = (
    "Platform",  # the main one
    "Add-on",
)
RECENT_CLOSE_WINDOW = DateWindow(start="2025-10-01", end="2026-02-18")
TOTAL_PIPELINE_TARGET = 3 * NUM_OPPORTUNITIES
PARETO_ALPHA = 1.0
