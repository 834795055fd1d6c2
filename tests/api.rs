//! The daemon end to end: a real `acejudge serve` process on 127.0.0.1 (a
//! free port it picks, a temporary data dir), the real judge, sandbox and
//! toolchains, spoken to over HTTP.
//!
//! Needs root (the sandbox); without it each test says why it skips, and on
//! CI (env CI set) it fails instead. The binary is `target/<profile>/acejudge`,
//! built by `cargo test --workspace`.

use acejudge_tests::require_root;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const LANGUAGES: [&str; 4] = ["go", "java", "node", "python"];
/// Judging the slowest reference (a cold Go build, javac) takes seconds; queues make it longer.
const JUDGE_DEADLINE: Duration = Duration::from_secs(300);

/// One daemon at a time: the hidden tests include timing-sensitive complexity checks, and two daemons
/// judging at once on a 2-core machine would make them flaky.
static ONE_DAEMON_AT_A_TIME: Mutex<()> = Mutex::new(());
/// Each daemon gets its own sandbox uids, so per-uid process limits never mix two daemons' runs.
static NEXT_UID_BASE: AtomicU32 = AtomicU32::new(62_000);

fn serial() -> MutexGuard<'static, ()> {
    ONE_DAEMON_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `target/<profile>/acejudge`, next to this test's `deps/` directory.
fn acejudge_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join("acejudge");
    assert!(binary.is_file(), "{} is missing: run `cargo build --workspace` first", binary.display());
    binary
}

/// A running `acejudge serve`; killed when dropped.
struct Daemon {
    child: Child,
    base: String,
    config: PathBuf,
}

impl Daemon {
    /// Writes a config into `dir` (state in `dir/data`, 2 slots, the bundled challenges) plus `extra` TOML
    /// sections, starts the daemon and waits for its "listening" line.
    fn start(dir: &Path, extra: &str) -> Daemon {
        let config = dir.join("acejudge.toml");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\nchallenges_dir = {:?}\n\n[queue]\nslots = 2\n\n\
             [sandbox]\nuid_base = {}\n\n{extra}\n",
            dir.join("data"),
            repo_root().join("challenges"),
            NEXT_UID_BASE.fetch_add(16, Ordering::SeqCst),
        );
        std::fs::write(&config, text).expect("write the test config");
        Daemon::start_with(&config)
    }

    fn start_with(config: &Path) -> Daemon {
        let mut child = Command::new(acejudge_binary())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("ACEJUDGE_LISTEN")
            .env_remove("ACEJUDGE_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start acejudge serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            for _ in lines {}
        });
        let line = match receiver.recv_timeout(Duration::from_secs(180)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("acejudge serve did not print its address (see its stderr above)");
            }
        };
        let base =
            line.strip_prefix("acejudge: listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Daemon { child, base: base.to_string(), config: config.to_path_buf() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with the pid of a child this process spawned and has not reaped.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill({signal})");
    }

    /// SIGKILL, and reap.
    fn crash(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for acejudge") {
                return status;
            }
            assert!(Instant::now() < deadline, "acejudge serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn database(&self, dir: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(dir.join("data/acejudge.db")).expect("open the daemon's database")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status, headers we look at, body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(600)).build()
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    let mut request = agent().request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => request.set("content-type", "application/json").send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let retry_after = response.header("retry-after").map(String::from);
    let body = response.into_string().expect("read the body");
    Answer { status, retry_after, body }
}

fn get(url: &str) -> Answer {
    call("GET", url, &[], None)
}

fn post(url: &str, body: &Value) -> Answer {
    call("POST", url, &[], Some(&body.to_string()))
}

/// The reference solution of a challenge in a language, as a submission.
fn reference(slug: &str, language: &str) -> Value {
    let dir = repo_root().join("challenges").join(slug).join(language).join("solution");
    let entry = std::fs::read_dir(&dir).expect("solution dir").flatten().next().expect("a solution file");
    let name = entry.file_name().to_string_lossy().into_owned();
    let content = std::fs::read_to_string(entry.path()).expect("read the solution");
    json!({ "challenge": slug, "language": language, "files": [{ "name": name, "content": content }] })
}

/// The starter of a challenge: compiles, fails the tests quickly.
fn starter(slug: &str, language: &str) -> Value {
    let dir = repo_root().join("challenges").join(slug).join(language).join("starter");
    let entry = std::fs::read_dir(&dir).expect("starter dir").flatten().next().expect("a starter file");
    let name = entry.file_name().to_string_lossy().into_owned();
    let content = std::fs::read_to_string(entry.path()).expect("read the starter");
    json!({ "challenge": slug, "language": language, "files": [{ "name": name, "content": content }] })
}

fn challenge_slugs() -> Vec<String> {
    let mut slugs: Vec<String> = std::fs::read_dir(repo_root().join("challenges"))
        .expect("challenges/")
        .flatten()
        .filter(|e| e.path().join("challenge.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    slugs.sort();
    slugs
}

/// Polls a submission until it is done.
fn wait_done(daemon: &Daemon, id: i64) -> Value {
    let deadline = Instant::now() + JUDGE_DEADLINE;
    loop {
        let record = get(&daemon.url(&format!("/v1/submissions/{id}"))).json();
        if record["status"] == "done" {
            return record;
        }
        assert!(Instant::now() < deadline, "submission {id} not done in time: {record}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_reference_is_accepted_over_http_and_a_wrong_solution_names_its_failing_test() {
    if !require_root("every_reference_is_accepted_over_http_and_a_wrong_solution_names_its_failing_test") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "");
    let mut submitted = Vec::new();
    for slug in challenge_slugs() {
        for language in LANGUAGES {
            let answer = post(&daemon.url("/v1/submissions"), &reference(&slug, language));
            assert_eq!(answer.status, 202, "{slug}/{language}: {}", answer.body);
            submitted.push((slug.clone(), language, answer.json()["id"].as_i64().unwrap()));
        }
    }
    let wrong_dir = repo_root().join("tests/wrong-solutions/lru-cache-ttl/python/no-ttl-check-on-get");
    let wrong = json!({
        "challenge": "lru-cache-ttl", "language": "python",
        "files": [{ "name": "lru_cache.py", "content": std::fs::read_to_string(wrong_dir.join("lru_cache.py")).unwrap() }]
    });
    let wrong = post(&daemon.url("/v1/submissions?wait=true"), &wrong);
    assert!(wrong.status == 200 || wrong.status == 202, "{}", wrong.body);
    let wrong = wait_done(&daemon, wrong.json()["id"].as_i64().unwrap());
    assert_eq!(wrong["verdict"], "wrong_answer", "{wrong}");
    let failing: Vec<&str> = wrong["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail")
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert!(!failing.is_empty() && failing.iter().all(|name| !name.is_empty()), "no failing test named: {wrong}");

    let mut rejected = Vec::new();
    for (slug, language, id) in submitted {
        let record = wait_done(&daemon, id);
        if record["verdict"] != "accepted" {
            rejected.push(format!("{slug}/{language}: {} {}", record["verdict"], record["message"]));
        }
        assert!(!record["tests"].as_array().unwrap().is_empty(), "{slug}/{language} has no per-test results");
    }
    assert!(rejected.is_empty(), "references not accepted:\n{}", rejected.join("\n"));
}

#[test]
fn events_stream_in_order_and_wait_true_returns_the_final_result() {
    if !require_root("events_stream_in_order_and_wait_true_returns_the_final_result") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "");
    let submission = reference("rate-limiter-api-gateway", "python");
    let id = post(&daemon.url("/v1/submissions"), &submission).json()["id"].as_i64().unwrap();
    let response = agent().get(&daemon.url(&format!("/v1/submissions/{id}/events"))).call().expect("open the stream");
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let mut text = String::new();
    response.into_reader().take(16 << 20).read_to_string(&mut text).expect("read the stream to its end");
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(events.first(), Some(&"queued"), "{text}");
    assert_eq!(events.last(), Some(&"done"), "{text}");
    let running = events.iter().position(|e| *e == "running").expect("a running event");
    if let Some(compiling) = events.iter().position(|e| *e == "compiling") {
        assert!(compiling < running, "compiling after running: {events:?}");
    }
    let tests = &events[running + 1..events.len() - 1];
    assert!(!tests.is_empty() && tests.iter().all(|e| *e == "test"), "{events:?}");
    let done: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert_eq!(done["tests"].as_array().unwrap().len(), tests.len(), "one event per test result");
    assert_eq!(get(&daemon.url(&format!("/v1/submissions/{id}"))).json(), done);

    let waited = post(&daemon.url("/v1/submissions?wait=true"), &submission);
    assert_eq!(waited.status, 200, "{}", waited.body);
    let waited = waited.json();
    assert_eq!((waited["status"].as_str(), waited["verdict"].as_str()), (Some("done"), Some("accepted")));
    assert!(waited["wall_ms"].as_i64().unwrap() > 0);
}

#[test]
fn pagination_walks_every_submission_exactly_once() {
    if !require_root("pagination_walks_every_submission_exactly_once") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "");
    let mut ids = Vec::new();
    for i in 0..12 {
        let slug = if i % 2 == 0 { "lru-cache-ttl" } else { "circuit-breaker" };
        ids.push(post(&daemon.url("/v1/submissions"), &starter(slug, "python")).json()["id"].as_i64().unwrap());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(&daemon.url(&format!("/v1/submissions?limit=5&cursor={cursor}"))).json();
        seen.extend(page["items"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let lru = get(&daemon.url("/v1/submissions?challenge=lru-cache-ttl&limit=100")).json();
    assert_eq!(lru["items"].as_array().unwrap().len(), 6);
}

#[test]
fn tokens_rate_limit_body_size_and_file_names_are_enforced() {
    if !require_root("tokens_rate_limit_body_size_and_file_names_are_enforced") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let extra = "[auth]\nrequire_on_loopback = true\nrate_limit = 3\nrate_window_secs = 60\n\n[limits]\nmax_body_bytes = 65536\n";
    let daemon = Daemon::start(dir.path(), extra);
    let created = Command::new(acejudge_binary())
        .args(["token", "create", "--name", "e2e", "--config"])
        .arg(&daemon.config)
        .output()
        .expect("acejudge token create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_string();
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let url = daemon.url("/v1/submissions");
    let body = starter("lru-cache-ttl", "python");

    let anonymous = call("POST", &url, &[], Some(&body.to_string()));
    assert_eq!((anonymous.status, anonymous.error_code().as_str()), (401, "unauthorized"));
    assert_eq!(get(&daemon.url("/v1/challenges")).status, 401);
    assert_eq!(get(&daemon.url("/v1/health")).status, 200);

    let mut huge = body.clone();
    huge["files"][0]["content"] = json!("#".repeat(100_000));
    assert_eq!(call("POST", &url, &auth, Some(&huge.to_string())).status, 413);

    for name in ["", "/etc/passwd", "a/lru_cache.py", "../lru_cache.py", "lru..py", "a\u{0}.py", "a\u{7}.py"] {
        let mut bad = body.clone();
        bad["files"][0]["name"] = json!(name);
        let answer = call("POST", &url, &auth, Some(&bad.to_string()));
        assert_eq!((answer.status, answer.error_code().as_str()), (422, "bad_file_name"), "{name:?}");
    }
    for _ in 0..3 {
        assert_eq!(call("POST", &url, &auth, Some(&body.to_string())).status, 202);
    }
    let limited = call("POST", &url, &auth, Some(&body.to_string()));
    assert_eq!((limited.status, limited.error_code().as_str()), (429, "rate_limited"));
    let retry: u64 = limited.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry));

    let revoked = Command::new(acejudge_binary())
        .args(["token", "revoke", "e2e", "--config"])
        .arg(&daemon.config)
        .output()
        .expect("acejudge token revoke");
    assert!(revoked.status.success());
    assert_eq!(call("GET", &daemon.url("/v1/challenges"), &auth, None).status, 403);
}

#[test]
fn an_idempotent_retry_returns_the_same_id_and_runs_once() {
    if !require_root("an_idempotent_retry_returns_the_same_id_and_runs_once") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "");
    let body = starter("lru-cache-ttl", "python").to_string();
    let key = [("idempotency-key", "e2e-retry-1")];
    let url = daemon.url("/v1/submissions");
    let first = call("POST", &url, &key, Some(&body));
    let second = call("POST", &url, &key, Some(&body));
    assert_eq!(first.status, 202);
    let id = first.json()["id"].as_i64().unwrap();
    assert_eq!(second.json()["id"].as_i64(), Some(id));
    wait_done(&daemon, id);
    let third = call("POST", &format!("{url}?wait=true"), &key, Some(&body));
    assert_eq!((third.status, third.json()["id"].as_i64()), (200, Some(id)));
    let db = daemon.database(dir.path());
    let (rows, attempts, completions): (i64, i64, i64) = db
        .query_row("SELECT COUNT(*), SUM(attempts), SUM(completions) FROM submissions", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((rows, attempts, completions), (1, 1, 1));
}

#[test]
fn fifty_submissions_survive_a_sigkill_and_each_completes_exactly_once() {
    if !require_root("fifty_submissions_survive_a_sigkill_and_each_completes_exactly_once") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), "");
    let body = starter("lru-cache-ttl", "python");
    let ids: Vec<i64> =
        (0..50).map(|_| post(&daemon.url("/v1/submissions"), &body).json()["id"].as_i64().unwrap()).collect();
    // Kill it mid-work: once something has run, while most are still queued or running.
    let deadline = Instant::now() + JUDGE_DEADLINE;
    while get(&daemon.url(&format!("/v1/submissions/{}", ids[0]))).json()["status"] == "queued" {
        assert!(Instant::now() < deadline, "nothing started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let config = daemon.config.clone();
    daemon.crash();
    let daemon = Daemon::start_with(&config);
    for id in &ids {
        let record = wait_done(&daemon, *id);
        assert!(record["verdict"].is_string(), "{record}");
    }
    let db = daemon.database(dir.path());
    let mut stmt = db.prepare("SELECT id, completions FROM submissions ORDER BY id").unwrap();
    let rows: Vec<(i64, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|(_, completions)| *completions == 1), "a submission completed twice or never: {rows:?}");
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    assert!(daemon.stop().success(), "SIGTERM is a clean stop");
}

/// `acejudge run --data-dir DIR …`: its exit status, stdout and stderr.
fn run_cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(acejudge_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("run")
        .args(args)
        .env_remove("ACEJUDGE_DATA_DIR")
        .output()
        .expect("run acejudge");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn acejudge_run_goes_through_the_daemon_serving_its_data_dir_and_runs_alone_without_one() {
    if !require_root("acejudge_run_goes_through_the_daemon_serving_its_data_dir_and_runs_alone_without_one") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Tokens required and one run per window over HTTP: the local socket needs neither.
    let extra = "[auth]\nrequire_on_loopback = true\nrate_limit = 1\nrate_window_secs = 600\n";
    let daemon = Daemon::start(dir.path(), extra);
    let data = dir.path().join("data");
    let socket = data.join("run/api.sock");
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&socket).expect("the daemon made its local socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(data.join("run")).unwrap().permissions().mode() & 0o777, 0o700);

    let source = dir.path().join("main.py");
    std::fs::write(&source, "import sys\nprint('hello', input())\nprint('to stderr', file=sys.stderr)\n").unwrap();
    let stdin = dir.path().join("in.txt");
    std::fs::write(&stdin, "world\n").unwrap();
    let (source, stdin) = (source.to_str().unwrap(), stdin.to_str().unwrap());
    // By extension, three times (over the HTTP rate limit), and longer than HTTP callers may ask for.
    for _ in 0..3 {
        let (ok, out, err) = run_cli(&data, &["--lang", "py", source, "--stdin", stdin, "--wall", "5s"]);
        assert!(ok, "{err}");
        assert_eq!(out, "hello world\n");
        assert!(err.starts_with("to stderr\n") && err.contains("acejudge: run ok, exit 0"), "{err}");
        assert!(err.contains("(python, Python 3") && err.contains("through acejudge serve"), "{err}");
    }
    let (ok, out, _) = run_cli(&data, &["--lang", "python", source, "--stdin", stdin, "--json"]);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(ok && report["status"] == "ok" && report["stdout"] == "hello world\n", "{report}");
    let crash = dir.path().join("crash.py");
    std::fs::write(&crash, "raise ValueError('boom')\n").unwrap();
    let (ok, _, err) = run_cli(&data, &["--lang", "python", crash.to_str().unwrap()]);
    assert!(!ok && err.contains("ValueError: boom") && err.contains("acejudge: run runtime error, exit 1"), "{err}");

    // A one-shot run would share the daemon's directories: refused at once, naming the daemon.
    let started = Instant::now();
    let (ok, _, err) = run_cli(&data, &["--local", "--lang", "python", source, "--stdin", stdin]);
    assert!(!ok && err.contains("is in use by pid") && err.contains(" serve"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "a daemon holder is not waited for");

    // A dead daemon's socket: the run goes one-shot; a new daemon replaces the socket; a clean stop removes it.
    let config = daemon.config.clone();
    daemon.crash();
    assert!(socket.exists(), "SIGKILL leaves the socket behind");
    let (ok, out, err) = run_cli(&data, &["--lang", "python", source, "--stdin", stdin]);
    assert!(ok && out == "hello world\n", "{err}");
    assert!(!err.contains("through acejudge serve"), "{err}");
    let daemon = Daemon::start_with(&config);
    let (ok, _, err) = run_cli(&data, &["--lang", "python", source, "--stdin", stdin]);
    assert!(ok && err.contains("through acejudge serve"), "{err}");
    assert!(daemon.stop().success());
    assert!(!socket.exists(), "a clean stop removes the socket");
}
