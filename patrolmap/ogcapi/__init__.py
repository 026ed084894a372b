"""OGC API - Features (Part 1: Core) over patrolmap's layers, for QGIS, ArcGIS and GDAL.

The package holds what does not depend on HTTP routing: the collections registry (one
collection per layer, plus the saved patrol routes), the parsing of the items query, the
reading of pages of features, and the OpenAPI document. patrolmap.web.ogcapi serves it.
"""
