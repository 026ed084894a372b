"""Pure patrol-route planning core (no Flask, no database): network, tours, teams.

Kept apart from the web layer so that it can be tested and benchmarked on plain path layers.
"""
