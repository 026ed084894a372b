"""Reports for the department's leadership (issue 11): a period's figures, charts and workbook.

period: which local days a report covers and the period it is compared with; compute: the figures,
from the analysis code the maps use; charts: PNGs drawn on the server; workbook: the .xlsx export.
"""
