//! Every bundled challenge, in every language, judged for real: the reference
//! is Accepted with every test passing, the starter compiles and is not
//! Accepted, and every typical wrong solution kept in
//! `tests/wrong-solutions/<slug>/<lang>/<name>/` is not Accepted.
//! A wrong solution that passes is a bug as serious as a sandbox escape.
//!
//! Runs on the real sandbox, runner plugins and toolchains (root; CI has them).

use acejudge::challenges::Catalog;
use acejudge::judge::{Judge, JudgeConfig, JudgeReport, JudgeService, Submission, SubmittedFile, TestStatus, Verdict};
use acejudge::plugins::LoadOptions;
use acejudge_tests::require_root;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SLOTS: usize = 2;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// target/<profile>/, where cargo puts the runner plugins next to the binaries.
fn runners_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

#[derive(Debug)]
enum Expect {
    Accepted,
    /// Compiles, and is not Accepted.
    StarterFails,
    NotAccepted,
}

struct Case {
    slug: String,
    language: String,
    label: String,
    file: PathBuf,
    expect: Expect,
}

fn cases(catalog: &Catalog) -> Vec<Case> {
    let mut cases = Vec::new();
    for challenge in catalog.iter() {
        for (language, entry) in &challenge.languages {
            let lang_dir = challenge.dir.join(language);
            let case = |label: &str, file: PathBuf, expect: Expect| Case {
                slug: challenge.slug.clone(),
                language: language.clone(),
                label: label.into(),
                file,
                expect,
            };
            cases.push(case("reference", lang_dir.join("solution").join(&entry.entry), Expect::Accepted));
            cases.push(case("starter", lang_dir.join("starter").join(&entry.entry), Expect::StarterFails));
            let wrong_dir = repo().join("tests/wrong-solutions").join(&challenge.slug).join(language);
            let mut wrong: Vec<PathBuf> =
                std::fs::read_dir(&wrong_dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            wrong.sort();
            assert!(wrong.len() >= 2, "{}/{language}: at least two wrong solutions are kept", challenge.slug);
            for dir in wrong {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                cases.push(case(&format!("wrong: {name}"), dir.join(&entry.entry), Expect::NotAccepted));
            }
        }
    }
    cases
}

fn judge(judge: &Judge, slot: usize, case: &Case) -> Result<JudgeReport, String> {
    let content = std::fs::read_to_string(&case.file).map_err(|e| format!("{}: {e}", case.file.display()))?;
    let name = case.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let submission = Submission {
        challenge: case.slug.clone(),
        language: case.language.clone(),
        files: vec![SubmittedFile { name, content }],
    };
    judge.judge(slot, &submission, &mut |_| {}).map_err(|e| e.to_string())
}

fn check(case: &Case, report: &JudgeReport) -> Result<(), String> {
    let failing: Vec<&str> =
        report.tests.iter().filter(|t| t.status != TestStatus::Pass).map(|t| t.name.as_str()).take(3).collect();
    match case.expect {
        Expect::Accepted if report.verdict == Verdict::Accepted && !report.tests.is_empty() => Ok(()),
        Expect::Accepted => Err(format!(
            "the reference must be Accepted, got {} (failing: {failing:?}; {})",
            report.verdict.as_str(),
            report
                .message
                .as_deref()
                .or(report.compile_output.as_deref())
                .unwrap_or("")
                .chars()
                .take(600)
                .collect::<String>()
        )),
        Expect::StarterFails if report.verdict == Verdict::CompilationError => {
            Err(format!("the starter must compile: {}", report.compile_output.as_deref().unwrap_or("")))
        }
        Expect::StarterFails | Expect::NotAccepted if report.verdict == Verdict::Accepted => {
            Err(format!("{} was Accepted ({} tests passed)", case.label, report.tests.len()))
        }
        Expect::StarterFails | Expect::NotAccepted => Ok(()),
    }
}

#[test]
fn every_reference_is_accepted_every_starter_and_wrong_solution_is_not() {
    if !require_root("every_reference_is_accepted_every_starter_and_wrong_solution_is_not") {
        return;
    }
    let work = tempfile::Builder::new().prefix("acejudge-challenges-").tempdir().expect("temp dir");
    let config = JudgeConfig {
        challenges_dir: repo().join("challenges"),
        runners_dir: runners_dir(),
        data_dir: work.path().into(),
        slots: SLOTS,
        uid_base: 62000,
        artifact_cache_bytes: 512 << 20,
        warm_starts: true,
    };
    let options = LoadOptions { dir: runners_dir(), runner_files_only: true, ..LoadOptions::default() };
    let judge_service = Judge::open_with(&config, options).expect("the judge opens");
    let catalog = judge_service.catalog();
    assert!(catalog.problems.is_empty(), "every bundled challenge loads: {:?}", catalog.problems);
    assert_eq!(catalog.len(), 5, "five challenges are bundled");
    let languages: Vec<String> = judge_service.languages().into_iter().map(|l| l.id).collect();
    assert_eq!(languages, ["go", "java", "node", "python"], "all four toolchains must be present (CI installs them)");

    let cases = cases(catalog);
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<(usize, Result<JudgeReport, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for slot in 0..SLOTS {
            let (next, results, cases, judge_service) = (&next, &results, &cases, &judge_service);
            scope.spawn(move || loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(case) = cases.get(i) else { break };
                let result = judge(judge_service, slot, case);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut failures = Vec::new();
    for (i, result) in &results {
        let case = &cases[*i];
        let line = match result {
            Ok(report) => {
                let passed = report.tests.iter().filter(|t| t.status == TestStatus::Pass).count();
                format!(
                    "{:<28} {:<7} {:<48} {:<22} {passed}/{} tests, {} ms",
                    case.slug,
                    case.language,
                    case.label,
                    report.verdict.as_str(),
                    report.tests.len(),
                    report.wall_ms
                )
            }
            Err(e) => format!("{:<28} {:<7} {:<48} ERROR {e}", case.slug, case.language, case.label),
        };
        println!("{line}");
        let verdict = result.as_ref().map_err(Clone::clone).and_then(|r| check(case, r));
        if let Err(why) = verdict {
            failures.push(format!("{}/{} {}: {why}", case.slug, case.language, case.label));
        }
    }
    println!(
        "{} judged: {} references, {} starters, {} wrong solutions",
        cases.len(),
        cases.iter().filter(|c| matches!(c.expect, Expect::Accepted)).count(),
        cases.iter().filter(|c| matches!(c.expect, Expect::StarterFails)).count(),
        cases.iter().filter(|c| matches!(c.expect, Expect::NotAccepted)).count()
    );
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
