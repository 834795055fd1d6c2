//! The API in-process, over the fake judge: every route, every error status,
//! auth, rate limit, idempotency, `?wait=true`, SSE and pagination.

use super::*;
use crate::queue::fake::FakeJudge;
use crate::queue::{Metrics, QueueOptions};
use crate::store::Store;
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

struct TestApi {
    router: Router,
    judge: Arc<FakeJudge>,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
}

fn options() -> ApiOptions {
    ApiOptions {
        limits: LimitsConfig::default(),
        tokens_required: false,
        rate_limit: 0,
        rate_window: Duration::from_secs(60),
        wait_timeout: Duration::from_secs(10),
    }
}

fn api_with(options: ApiOptions, slots: usize, backlog: usize) -> TestApi {
    api_built(options, slots, backlog, router)
}

/// The API as the local socket serves it.
fn local_api_with(options: ApiOptions) -> TestApi {
    api_built(options, 2, 100, local_router)
}

fn api_built(options: ApiOptions, slots: usize, backlog: usize, make: fn(AppState) -> Router) -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("acejudge.db")).unwrap();
    let judge = Arc::new(FakeJudge::new());
    let service: Arc<dyn crate::judge::JudgeService> = judge.clone();
    let queue =
        Queue::start(Arc::clone(&store), service, Arc::new(Metrics::default()), QueueOptions { slots, backlog })
            .unwrap();
    let state = AppState::new(Arc::new(queue), options);
    TestApi { router: make(state), judge, store, _dir: dir }
}

fn api() -> TestApi {
    api_with(options(), 2, 100)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn error_code(&self) -> String {
        let body = self.json();
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {body}");
        body["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

impl TestApi {
    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: Body) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, &[], Body::empty()).await
    }

    async fn post(&self, uri: &str, body: &Value) -> Answer {
        self.send("POST", uri, &[("content-type", "application/json")], Body::from(body.to_string())).await
    }
}

fn solution(content: &str) -> Value {
    json!({ "challenge": "lru-cache-ttl", "language": "python", "files": [{ "name": "lru_cache.py", "content": content }] })
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let api = api();
    let doc = api.get("/v1/openapi.json").await.json();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routes.sort();
    assert_eq!(documented, routes);
    for (method, path) in ROUTES {
        let uri = path.replace("{slug}", "lru-cache-ttl").replace("{id}", "999");
        let answer = api.send(method, &uri, &[], Body::from("{}")).await;
        let code = if answer.status.is_success() { String::new() } else { answer.error_code() };
        assert!(code != "not_found" && code != "method_not_allowed", "{method} {path} is not routed: {}", answer.text);
    }
    assert_eq!(api.get("/v1/nope").await.error_code(), "not_found");
    assert_eq!(api.send("DELETE", "/v1/challenges", &[], Body::empty()).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_challenge_shows_statement_limits_and_starters_but_never_hidden_tests_or_the_reference() {
    let api = api();
    let list = api.get("/v1/challenges").await.json();
    assert!(list["challenges"].as_array().unwrap().iter().any(|c| c["slug"] == "rate-limiter-api-gateway"));
    let answer = api.get("/v1/challenges/rate-limiter-api-gateway").await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert!(body["statement"].as_str().unwrap().len() > 100);
    assert_eq!(body["limits"]["run_wall_ms"], 3000);
    assert!(body["languages"]["python"]["starter"].as_str().unwrap().contains("class RateLimiter"));
    let challenge =
        crate::judge::JudgeService::catalog(api.judge.as_ref()).get("rate-limiter-api-gateway").unwrap().clone();
    for entry in challenge.languages.values() {
        let reference = std::fs::read_to_string(&entry.solution).unwrap();
        assert!(!answer.text.contains(reference.trim()), "the reference solution leaked");
        for test in &entry.tests {
            let text = String::from_utf8_lossy(&test.contents);
            assert!(!answer.text.contains(text.trim()), "hidden test {} leaked", test.name);
            assert!(!answer.text.contains(&test.name), "hidden test name {} leaked", test.name);
        }
    }
    assert_eq!(api.get("/v1/challenges/no-such-thing").await.error_code(), "unknown_challenge");
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_a_json_error() {
    let api = api();
    let send_raw = |body: &'static str| api.send("POST", "/v1/submissions", &[], Body::from(body));
    assert_eq!(send_raw("{not json").await.error_code(), "malformed_json");
    assert_eq!(send_raw("{\"challenge\": 3}").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(send_raw("").await.status, StatusCode::BAD_REQUEST);
    let mut unknown = solution("x");
    unknown["challenge"] = json!("no-such-challenge");
    let answer = api.post("/v1/submissions", &unknown).await;
    assert_eq!((answer.status, answer.error_code().as_str()), (StatusCode::NOT_FOUND, "unknown_challenge"));
    let mut cobol = solution("x");
    cobol["language"] = json!("cobol");
    let answer = api.post("/v1/submissions", &cobol).await;
    assert_eq!((answer.status, answer.error_code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_language"));
    let mut wrong_name = solution("x");
    wrong_name["files"][0]["name"] = json!("other.py");
    assert_eq!(api.post("/v1/submissions", &wrong_name).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/v1/submissions/12345").await.error_code(), "unknown_submission");
    assert_eq!(api.get("/v1/submissions/abc").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/v1/submissions/abc/events").await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/v1/submissions?limit=0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/v1/submissions?cursor=zz").await.error_code(), "invalid_cursor");
    assert_eq!(api.get("/v1/submissions?limit=x").await.error_code(), "invalid_query");
    assert_eq!(
        api.send("POST", "/v1/submissions?wait=maybe", &[], Body::from(solution("x").to_string())).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn each_bad_file_name_is_422() {
    let api = api();
    for name in
        ["", "/abs.py", "dir/lru_cache.py", "..", "../lru_cache.py", "lru..cache.py", "a\0.py", "a\n.py", "a\u{1b}.py"]
    {
        let mut body = solution("x");
        body["files"][0]["name"] = json!(name);
        let answer = api.post("/v1/submissions", &body).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {}", answer.text);
        assert_eq!(answer.error_code(), "bad_file_name", "{name:?}");
    }
}

#[tokio::test]
async fn a_body_a_file_or_too_many_files_over_the_limit_is_413() {
    let mut opts = options();
    opts.limits.max_body_bytes = 64 << 10;
    opts.limits.max_file_bytes = 8 << 10;
    opts.limits.max_files = 2;
    let api = api_with(opts, 1, 100);
    let huge = "x".repeat(100 << 10);
    assert_eq!(api.post("/v1/submissions", &solution(&huge)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length (chunked), the limit still holds.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(solution(&huge).to_string().into_bytes())]);
    let answer = api.send("POST", "/v1/submissions", &[], Body::from_stream(stream)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.error_code(), "too_large");
    let big_file = "x".repeat(10 << 10);
    assert_eq!(api.post("/v1/submissions", &solution(&big_file)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut many = solution("x");
    many["files"] =
        json!([{"name": "a.py", "content": ""}, {"name": "b.py", "content": ""}, {"name": "c.py", "content": ""}]);
    assert_eq!(api.post("/v1/submissions", &many).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let execution =
        json!({ "language": "python", "file": { "name": "m.py", "content": "" }, "stdin": "y".repeat(300 << 10) });
    let mut opts = options();
    opts.limits.max_body_bytes = 1 << 20;
    let api = api_with(opts, 1, 100);
    assert_eq!(api.post("/v1/executions", &execution).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn tokens_are_required_when_configured_revoked_ones_are_refused_and_health_stays_open() {
    let mut opts = options();
    opts.tokens_required = true;
    let api = api_with(opts, 1, 100);
    let good = api.store.create_token("alice").unwrap().token;
    let revoked = api.store.create_token("bob").unwrap().token;
    api.store.revoke_token("bob").unwrap();
    let answer = api.get("/v1/challenges").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
    let api = &api;
    let with = |token: String| async move {
        let value = format!("Bearer {token}");
        api.send("GET", "/v1/challenges", &[("authorization", &value)], Body::empty()).await.status
    };
    assert_eq!(with(good.clone()).await, StatusCode::OK);
    assert_eq!(with("acj_0000".into()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(with(revoked).await, StatusCode::FORBIDDEN);
    let basic = api.send("GET", "/v1/challenges", &[("authorization", "Basic abc")], Body::empty()).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/metrics").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/v1/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn runs_past_the_rate_limit_get_429_with_retry_after_per_token() {
    let mut opts = options();
    opts.rate_limit = 3;
    opts.rate_window = Duration::from_secs(30);
    let api = api_with(opts, 1, 100);
    let alice = format!("Bearer {}", api.store.create_token("alice").unwrap().token);
    let bob = format!("Bearer {}", api.store.create_token("bob").unwrap().token);
    let post = |auth: String| {
        let api = &api;
        async move {
            api.send("POST", "/v1/submissions", &[("authorization", &auth)], Body::from(solution("x").to_string()))
                .await
        }
    };
    for _ in 0..3 {
        assert_eq!(post(alice.clone()).await.status, StatusCode::ACCEPTED);
    }
    let limited = post(alice.clone()).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(post(bob).await.status, StatusCode::ACCEPTED, "another token has its own allowance");
    assert!(api.get("/metrics").await.text.contains("acejudge_rejected_requests_total{reason=\"rate_limited\"} 1"));
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_same_submission_and_it_runs_once() {
    let api = api();
    let key = [("idempotency-key", "retry-me-1")];
    let first = api.send("POST", "/v1/submissions?wait=true", &key, Body::from(solution("ok").to_string())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second = api.send("POST", "/v1/submissions", &key, Body::from(solution("ok").to_string())).await;
    assert_eq!(second.json()["id"], first.json()["id"]);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.json()["verdict"], "accepted");
    assert_eq!(api.judge.completed.load(std::sync::atomic::Ordering::SeqCst), 1);
    let other = api.send("POST", "/v1/submissions", &key, Body::from(solution("different").to_string())).await;
    assert_eq!((other.status, other.error_code().as_str()), (StatusCode::CONFLICT, "idempotency_key_reused"));
    let bad_key =
        api.send("POST", "/v1/submissions", &[("idempotency-key", "")], Body::from(solution("ok").to_string())).await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wait_true_answers_with_the_final_result_and_the_failing_test_named() {
    let api = api();
    let answer = api.post("/v1/submissions?wait=true", &solution("FAKE:wrong")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["status"], "done");
    assert_eq!(body["verdict"], "wrong_answer");
    let failing: Vec<&Value> = body["tests"].as_array().unwrap().iter().filter(|t| t["status"] == "fail").collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0]["name"], "test_two");
    assert_eq!(failing[0]["message"], "expected 1, got 2");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(api.get(&format!("/v1/submissions/{id}")).await.json(), body);
    let plain = api.post("/v1/submissions", &solution("ok")).await;
    assert_eq!(plain.status, StatusCode::ACCEPTED);
    assert!(plain.headers[header::LOCATION].to_str().unwrap().starts_with("/v1/submissions/"));
}

/// Event names of an SSE body, in order.
fn event_names(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("event: ")).map(String::from).collect()
}

#[tokio::test]
async fn events_arrive_in_order_and_end_with_the_final_result() {
    let api = api();
    let id = api.post("/v1/submissions", &solution("FAKE:hold")).await.json()["id"].as_i64().unwrap();
    let events = {
        let router = api.router.clone();
        tokio::spawn(async move {
            let request = Request::get(format!("/v1/submissions/{id}/events")).body(Body::empty()).unwrap();
            let response = router.oneshot(request).await.unwrap();
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    api.judge.release();
    let text = tokio::time::timeout(Duration::from_secs(10), events).await.unwrap().unwrap();
    assert_eq!(event_names(&text), ["queued", "compiling", "running", "test", "test", "done"], "{text}");
    let done = text.lines().rev().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let done: Value = serde_json::from_str(done).unwrap();
    assert_eq!(done["verdict"], "accepted");
    // A late subscriber gets the whole story from the store.
    let late = api.get(&format!("/v1/submissions/{id}/events")).await.text;
    assert_eq!(event_names(&late), ["queued", "running", "test", "test", "done"]);
}

#[tokio::test]
async fn a_judge_that_reports_tests_only_at_the_end_still_streams_one_event_per_result() {
    let api = api();
    let id = api.post("/v1/submissions", &solution("FAKE:hold FAKE:quiet")).await.json()["id"].as_i64().unwrap();
    let events = {
        let router = api.router.clone();
        tokio::spawn(async move {
            let request = Request::get(format!("/v1/submissions/{id}/events")).body(Body::empty()).unwrap();
            let response = router.oneshot(request).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8(bytes.to_vec()).unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    api.judge.release();
    let text = tokio::time::timeout(Duration::from_secs(10), events).await.unwrap().unwrap();
    assert_eq!(event_names(&text), ["queued", "compiling", "running", "test", "test", "done"], "{text}");
}

#[tokio::test]
async fn pagination_walks_every_submission_exactly_once() {
    let api = api();
    for i in 0..23 {
        let mut body = solution("ok");
        if i % 3 == 0 {
            body["challenge"] = json!("rate-limiter-api-gateway");
            body["files"][0]["name"] = json!("rate_limiter.py");
        }
        assert_eq!(api.post("/v1/submissions", &body).await.status, StatusCode::ACCEPTED);
    }
    let walk = |filter: &'static str| {
        let api = &api;
        async move {
            let mut ids = Vec::new();
            let mut cursor = String::new();
            loop {
                let page = api.get(&format!("/v1/submissions?limit=5&cursor={cursor}{filter}")).await.json();
                ids.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()));
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = next.to_string(),
                    None => return ids,
                }
            }
        }
    };
    let all = walk("").await;
    assert_eq!(all, (1..=23).rev().collect::<Vec<i64>>());
    let filtered = walk("&challenge=rate-limiter-api-gateway").await;
    assert_eq!(filtered, (1..=23).rev().filter(|i| (i - 1) % 3 == 0).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_full_backlog_answers_503_with_retry_after() {
    let api = api_with(options(), 1, 1);
    let first = api.post("/v1/submissions", &solution("FAKE:hold")).await.json()["id"].as_i64().unwrap();
    while api.get(&format!("/v1/submissions/{first}")).await.json()["status"] != "running" {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(api.post("/v1/submissions", &solution("b")).await.status, StatusCode::ACCEPTED);
    let full = api.post("/v1/submissions", &solution("c")).await;
    assert_eq!((full.status, full.error_code().as_str()), (StatusCode::SERVICE_UNAVAILABLE, "queue_full"));
    assert_eq!(full.headers[header::RETRY_AFTER], "5");
    api.judge.release();
}

#[tokio::test]
async fn executions_run_ad_hoc_and_unknown_languages_are_422() {
    let api = api();
    let run =
        json!({ "language": "python", "file": { "name": "main.py", "content": "print(input())" }, "stdin": "hi\n" });
    let answer = api.post("/v1/executions", &run).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["stdout"], "hi\n");
    let mut cobol = run.clone();
    cobol["language"] = json!("cobol");
    assert_eq!(api.post("/v1/executions", &cobol).await.error_code(), "unknown_language");
    let mut bad = run;
    bad["file"]["name"] = json!("../main.py");
    assert_eq!(api.post("/v1/executions", &bad).await.error_code(), "bad_file_name");
}

#[tokio::test]
async fn execution_limits_are_capped_over_http_and_the_local_socket_needs_no_token_nor_rate() {
    let strict = ApiOptions { tokens_required: true, rate_limit: 1, ..options() };
    let run = |limits: Value| {
        json!({ "language": "python", "file": { "name": "main.py", "content": "print(input())" },
                "stdin": "hi\n", "limits": limits })
    };
    let default = json!({ "wall_ms": 3000, "memory_bytes": 256u64 << 20 });
    let long = json!({ "wall_ms": 60_000, "memory_bytes": 1u64 << 30 });

    let http = api_with(options(), 2, 100);
    assert_eq!(http.post("/v1/executions", &run(default.clone())).await.status, StatusCode::OK);
    let over = http.post("/v1/executions", &run(long.clone())).await;
    assert_eq!((over.status, over.error_code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "bad_limits"));
    assert!(over.json()["error"]["message"].as_str().unwrap().contains("limits.wall_ms is 60000"), "{}", over.text);
    let strict_http = api_with(strict.clone(), 2, 100);
    assert_eq!(strict_http.post("/v1/executions", &run(default)).await.status, StatusCode::UNAUTHORIZED);

    let local = local_api_with(strict);
    for _ in 0..3 {
        let answer = local.post("/v1/executions", &run(long.clone())).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json()["stdout"], "hi\n");
    }
    for bad in [json!({ "wall_ms": 0, "memory_bytes": 1u64 << 30 }), json!({ "wall_ms": 1000, "memory_bytes": 1024 })] {
        let answer = local.post("/v1/executions", &run(bad)).await;
        assert_eq!((answer.status, answer.error_code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "bad_limits"));
    }
    let unknown =
        local.post("/v1/executions", &run(json!({ "wall_ms": 1000, "memory_bytes": 1u64 << 30, "cpu": 1 }))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "unknown limit fields are refused: {}", unknown.text);
}

#[tokio::test]
async fn health_languages_and_metrics_answer() {
    let api = api();
    let health = api.get("/v1/health").await.json();
    assert_eq!(health["status"], "ok");
    let languages = api.get("/v1/languages").await.json();
    assert_eq!(languages["languages"].as_array().unwrap().len(), 4);
    api.post("/v1/submissions?wait=true", &solution("ok")).await;
    let metrics = api.get("/metrics").await;
    assert!(metrics.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    for line in [
        "acejudge_queue_depth 0",
        "acejudge_runs_total{verdict=\"accepted\",language=\"python\"} 1",
        "acejudge_run_seconds_count 1",
        "acejudge_sandbox_failures_total 0",
    ] {
        assert!(metrics.text.contains(line), "missing {line}:\n{}", metrics.text);
    }
}

#[tokio::test]
async fn nothing_a_client_sends_makes_the_daemon_answer_500() {
    let api = api();
    let long = "a".repeat(5000);
    type Case = (&'static str, String, Vec<(&'static str, String)>, Vec<u8>);
    let cases: Vec<Case> = vec![
        ("POST", "/v1/submissions".into(), vec![], vec![0xff, 0xfe, 0x00]),
        ("POST", "/v1/submissions".into(), vec![], b"[]".to_vec()),
        ("POST", "/v1/submissions".into(), vec![], b"null".to_vec()),
        ("POST", "/v1/submissions".into(), vec![], br#"{"challenge":"lru-cache-ttl","language":"python","files":[]}"#.to_vec()),
        ("POST", "/v1/submissions".into(), vec![], br#"{"challenge":"","language":"","files":[{"name":"x","content":""}]}"#.to_vec()),
        ("POST", "/v1/submissions".into(), vec![], br#"{"challenge":"lru-cache-ttl","language":"python","files":[{"name":"lru_cache.py","content":"x"}],"extra":1}"#.to_vec()),
        ("POST", "/v1/submissions".into(), vec![("authorization", "Bearer ".into())], b"{}".to_vec()),
        ("POST", "/v1/submissions".into(), vec![("authorization", format!("Bearer {long}"))], b"{}".to_vec()),
        ("POST", "/v1/submissions".into(), vec![("content-length", "99999999999".into())], b"{}".to_vec()),
        ("POST", "/v1/executions".into(), vec![], b"{\"language\":1}".to_vec()),
        ("GET", format!("/v1/submissions/{long}"), vec![], vec![]),
        ("GET", "/v1/submissions/-1".into(), vec![], vec![]),
        ("GET", "/v1/submissions/99999999999999999999999".into(), vec![], vec![]),
        ("GET", "/v1/submissions?limit=-1&cursor=-5".into(), vec![], vec![]),
        ("GET", "/v1/submissions?challenge=%00%ff".into(), vec![], vec![]),
        ("GET", "/v1/challenges/..%2F..%2Fetc".into(), vec![], vec![]),
        ("GET", "/v1/challenges/%00".into(), vec![], vec![]),
    ];
    for (method, uri, headers, body) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = api.send(method, &uri, &headers, Body::from(body)).await;
        assert!(!answer.status.is_server_error(), "{method} {uri}: {} {}", answer.status, answer.text);
        if !answer.status.is_success() {
            answer.error_code();
        }
    }
}
