"""Traffic analysis of parking violations: hour windows and workdays, hexagon hotspots (Getis-Ord Gi*),
repeat offenders and zombie cars, duty-post placement.

Pure functions over plain columns (numpy, pandas, shapely, pyproj, scipy): no Flask, no database.
The web layer reads the columns through patrolmap.store and passes them in.
"""
