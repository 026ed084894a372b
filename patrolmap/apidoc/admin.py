"""The audit log, imports from the web, and the leadership reports."""

from __future__ import annotations

from patrolmap.apidoc.common import CAMPUS, LIMIT, OFFSET
from patrolmap.apidoc.dsl import (
    ANY,
    BINARY,
    BOOLEAN,
    CSV,
    DATE,
    INTEGER,
    STRING,
    Endpoint,
    answer,
    array,
    download,
    enum,
    multipart,
    nullable,
    obj,
    query,
    text,
    whole,
)
from patrolmap.geo.io import LAYER_IDS
from patrolmap.reports.charts import CHARTS
from patrolmap.reports.period import KINDS as PERIODS
from patrolmap.staging import ENCODINGS, KINDS

TAG = ("Administration", "The audit log, imports from the web, and the leadership reports")

ENTRY = obj({"id": INTEGER, "at": STRING, "actor": STRING, "action": STRING},
            {"layer": nullable(STRING), "feature_id": nullable(INTEGER), "campus": nullable(STRING),
             "reason": nullable(STRING), "before": ANY, "after": ANY})
STAGED = obj({"token": STRING, "kind": STRING},
             {"filename": STRING, "size": INTEGER, "campus": nullable(STRING), "new_campus": BOOLEAN,
              "created_by": STRING, "created_at": STRING, "committed_at": nullable(STRING),
              "preview": nullable(obj()), "result": nullable(obj())})
PERIOD = (CAMPUS, query("period", enum(*PERIODS), "week, month, term or custom (from/to)"),
          query("date", DATE, "a day inside the period (default: today)"), query("from", DATE, "custom: first day"),
          query("to", DATE, "custom: last day"))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

READY = obj({"status": STRING}, {"database": STRING, "revision": array(STRING), "reason": STRING,
                                 "message": STRING, "database_revision": array(STRING),
                                 "expected_revision": array(STRING)})

ENDPOINTS = [
    Endpoint("apidocs.openapi_json", "GET", "This document: every JSON endpoint, OGC API - Features included",
             {"200": answer("the OpenAPI 3.0 document", obj({"openapi": STRING, "paths": obj()}))}),
    Endpoint("health.healthz", "GET", "Whether the process answers (for load balancers)",
             {"200": answer("it does", obj({"status": enum("ok")}))}),
    Endpoint("health.readyz", "GET", "Whether this server can serve: the database answers, its schema is current", {
        "200": answer("ready", READY), "503": answer("not ready, and why (Retry-After)", READY)}),
    Endpoint("admin.audit_entries", "GET", "Audit log entries, newest first (JSON, or every match as CSV)", {
        "200": answer("a page of entries", obj({"numberMatched": INTEGER, "numberReturned": INTEGER,
                                                "entries": array(ENTRY)}), also={CSV: STRING})},
        parameters=(query("layer", STRING), query("actor", STRING), query("action", STRING),
                    query("feature_id", whole(1)), query("since", STRING, "ISO 8601 date or date-time"),
                    query("until", STRING, "ISO 8601 date or date-time"), query("format", enum("json", "csv")),
                    LIMIT, OFFSET)),
    Endpoint("import_api.stage_import", "POST", "Upload a file for import: a dry run whose preview is answered", {
        "201": answer("the staged file and its preview", STAGED)},
        body=multipart({"file": BINARY, "campus": text(64), "kind": enum(*KINDS), "layer": enum(*LAYER_IDS),
                        "encoding": enum(*ENCODINGS), "name": text(200)}), errors=(413, 415, 422),
        description="Admins import any layer (and may name a new campus); traffic staff recorded violations only."),
    Endpoint("import_api.read_import", "GET", "A staged import and its preview",
             {"200": answer("the staged file", STAGED)}),
    Endpoint("import_api.commit_import", "POST", "Write a staged import (validated again): all or nothing", {
        "200": answer("written", obj({"token": STRING}))}, errors=(409, 413, 422)),
    Endpoint("import_api.discard_import", "DELETE", "Discard a staged import", {
        "200": answer("discarded", obj({"token": STRING, "discarded": BOOLEAN}))}, errors=(409,)),
    Endpoint("reports_api.report_json", "GET", "A campus's report for a period: every figure of /reports", {
        "200": answer("the report, with links to its workbook and charts", obj({"charts": obj(),
                                                                                "workbook": STRING}))},
        parameters=PERIOD),
    Endpoint("reports_api.report_xlsx", "GET", "The report as an Excel workbook",
             {"200": download("the workbook", XLSX)}, parameters=PERIOD),
    Endpoint("reports_api.report_chart", "GET", "One chart of the report as a PNG",
             {"200": download("the chart", "image/png")},
             parameters=(*PERIOD, query("report", STRING, "the token of the report the page was made from"),
                         query("download", enum("1", "0"), "1: as a file to save")),
             path_schemas={"name": enum(*CHARTS)}),
]
