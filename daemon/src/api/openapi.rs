//! The OpenAPI 3.1 document served at `GET /v1/openapi.json`, written by
//! hand next to the routes; a test proves its paths are exactly [`super::ROUTES`].

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok_json(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

pub fn document() -> Value {
    let auth_errors = json!({
        "401": error_response("No token, a malformed header or an unknown token"),
        "403": error_response("The token was revoked"),
    });
    let with = |mut responses: Value| {
        if let (Some(map), Some(extra)) = (responses.as_object_mut(), auth_errors.as_object()) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        responses
    };
    let id_param = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "AceJudge",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Judge backend-engineering challenges in Go, Python, Java and Node.js. Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "File": { "type": "object", "required": ["name", "content"], "properties": { "name": { "type": "string", "description": "A plain name: not empty or absolute, no /, .., NUL or control characters" }, "content": { "type": "string" } } },
                "SubmissionRequest": { "type": "object", "required": ["challenge", "language", "files"], "additionalProperties": false, "properties": { "challenge": { "type": "string" }, "language": { "type": "string" }, "files": { "type": "array", "items": { "$ref": "#/components/schemas/File" } } } },
                "TestResult": { "type": "object", "properties": { "name": { "type": "string" }, "status": { "enum": ["pass", "fail", "error", "skipped"] }, "duration_ms": { "type": ["number", "null"] }, "message": { "type": ["string", "null"] } } },
                "Submission": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "challenge": { "type": "string" }, "language": { "type": "string" },
                    "status": { "enum": ["queued", "running", "done"] },
                    "verdict": { "type": ["string", "null"], "enum": ["accepted", "wrong_answer", "compilation_error", "runtime_error", "time_limit_exceeded", "memory_limit_exceeded", "output_limit_exceeded", "security_violation", "internal_error", null] },
                    "message": { "type": ["string", "null"] }, "compile_output": { "type": ["string", "null"] },
                    "wall_ms": { "type": ["integer", "null"] }, "cpu_ms": { "type": ["integer", "null"] }, "memory_peak_bytes": { "type": ["integer", "null"] },
                    "attempts": { "type": "integer" }, "created_at": { "type": "integer" }, "started_at": { "type": ["integer", "null"] }, "finished_at": { "type": ["integer", "null"] },
                    "tests": { "type": "array", "items": { "$ref": "#/components/schemas/TestResult" } } } },
                "SubmissionPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Submission" } }, "next_cursor": { "type": ["string", "null"] } } },
                "ExecutionRequest": { "type": "object", "required": ["language", "file"], "additionalProperties": false, "properties": { "language": { "type": "string" }, "file": { "$ref": "#/components/schemas/File" }, "stdin": { "type": "string" }, "limits": { "type": "object", "description": "Optional; over HTTP at most the defaults (3000 ms, 256 MiB), through the local socket at most the CLI's (600 s)", "required": ["wall_ms", "memory_bytes"], "additionalProperties": false, "properties": { "wall_ms": { "type": "integer", "minimum": 1 }, "memory_bytes": { "type": "integer", "minimum": 16777216 } } } } },
                "ExecutionReport": { "type": "object", "properties": { "status": { "type": "string" }, "exit_code": { "type": ["integer", "null"] }, "stdout": { "type": "string" }, "stderr": { "type": "string" }, "compile_output": { "type": ["string", "null"] }, "message": { "type": ["string", "null"] }, "wall_ms": { "type": "integer" }, "cpu_ms": { "type": "integer" }, "memory_peak_bytes": { "type": ["integer", "null"] }, "language": { "type": "string" }, "toolchain_version": { "type": "string" } } },
                "Challenge": { "type": "object", "description": "Statement, limits and per-language entry file, interface and starter. Never hidden tests or the reference solution." }
            }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/v1/health": { "get": { "summary": "Liveness and queue state (no token needed)", "security": [], "responses": { "200": { "description": "Serving" }, "503": error_response("Draining for shutdown") } } },
            "/v1/languages": { "get": { "summary": "Languages the judge runs", "responses": with(json!({ "200": { "description": "{\"languages\": [{id, name, version, extensions}]}" } })) } },
            "/v1/challenges": { "get": { "summary": "Challenges", "responses": with(json!({ "200": { "description": "{\"challenges\": [...]}" } })) } },
            "/v1/challenges/{slug}": { "get": { "summary": "One challenge: statement, limits, starters",
                "parameters": [{ "name": "slug", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": with(json!({ "200": ok_json("The challenge", "Challenge"), "404": error_response("Unknown challenge") })) } },
            "/v1/submissions": {
                "post": { "summary": "Submit a solution",
                    "parameters": [
                        { "name": "wait", "in": "query", "schema": { "type": "boolean" }, "description": "Hold the answer until judged (bounded by queue.wait_timeout_secs)" },
                        { "name": "Idempotency-Key", "in": "header", "schema": { "type": "string", "maxLength": 255 }, "description": "A retry with the same key and request returns the same submission" }
                    ],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubmissionRequest" } } } },
                    "responses": with(json!({
                        "200": ok_json("Judged (with ?wait=true)", "Submission"),
                        "202": ok_json("Accepted and queued; Location names it", "Submission"),
                        "400": error_response("Malformed JSON or query"),
                        "404": error_response("Unknown challenge"),
                        "409": error_response("Idempotency-Key reused with a different request"),
                        "413": error_response("Body, a file or the number of files over the limit"),
                        "422": error_response("Unknown language, language not offered, wrong or bad file name"),
                        "429": error_response("Rate limited (Retry-After)"),
                        "503": error_response("Queue full or shutting down (Retry-After)")
                    })) },
                "get": { "summary": "List submissions, newest first",
                    "parameters": [
                        { "name": "challenge", "in": "query", "schema": { "type": "string" } },
                        { "name": "cursor", "in": "query", "schema": { "type": "string" }, "description": "next_cursor of the previous page" },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } }
                    ],
                    "responses": with(json!({ "200": ok_json("A page", "SubmissionPage"), "400": error_response("Bad cursor or limit") })) }
            },
            "/v1/submissions/{id}": { "get": { "summary": "One submission: status, verdict, per-test results, time, memory, compiler output",
                "parameters": [id_param.clone()],
                "responses": with(json!({ "200": ok_json("The submission", "Submission"), "404": error_response("Unknown submission") })) } },
            "/v1/submissions/{id}/events": { "get": { "summary": "Progress as Server-Sent Events: queued, compiling, running, test (one per result), done (the submission); then the stream ends",
                "parameters": [id_param],
                "responses": with(json!({ "200": { "description": "text/event-stream", "content": { "text/event-stream": {} } }, "404": error_response("Unknown submission") })) } },
            "/v1/executions": { "post": { "summary": "Run one program with stdin (no challenge)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ExecutionRequest" } } } },
                "responses": with(json!({
                    "200": ok_json("How it ended", "ExecutionReport"),
                    "400": error_response("Malformed JSON"),
                    "413": error_response("Body, file or stdin over the limit"),
                    "422": error_response("Unknown language, bad file name or limits over the ceiling"),
                    "429": error_response("Rate limited (Retry-After)"),
                    "503": error_response("Busy or shutting down (Retry-After)")
                })) } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": with(json!({ "200": { "description": "text/plain; version=0.0.4" } })) } },
            "/v1/openapi.json": { "get": { "summary": "This document", "responses": with(json!({ "200": { "description": "OpenAPI 3.1" } })) } }
        }
    })
}
