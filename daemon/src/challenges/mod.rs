//! Challenges: loading `challenges/<slug>/` folders into a [`Catalog`] and
//! validating them. A malformed challenge is reported with the file and field
//! at fault, and the others still load.
//!
//! Layout (see `challenges/FORMAT.md`): `challenge.toml`, `README.md`, and per
//! language `starter/<entry>`, `tests/…` (hidden) and `solution/<entry>`
//! (hidden). The catalog keeps starters, statements and hidden test files in
//! memory — they are small — so judging never reads the challenge tree again.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How hard a challenge is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

/// Resource limits of a challenge's compile and test steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeLimits {
    pub run_wall_ms: u64,
    pub run_cpu_ms: u64,
    pub compile_wall_ms: u64,
    pub memory_mb: u64,
    pub pids: u64,
    pub output_bytes: u64,
}

impl Default for ChallengeLimits {
    /// The platform's promise: a 3 s run, 10 s to compile, 256 MiB, 64 processes, 1 MiB of output.
    fn default() -> Self {
        ChallengeLimits {
            run_wall_ms: 3000,
            run_cpu_ms: 6000,
            compile_wall_ms: 10_000,
            memory_mb: 256,
            pids: 64,
            output_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeToml {
    slug: String,
    title: String,
    difficulty: Difficulty,
    category: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    limits: ChallengeLimits,
    languages: BTreeMap<String, LanguageToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageToml {
    entry: String,
    #[serde(default)]
    interface: String,
}

/// A file of a challenge, by its name in the box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeFile {
    pub name: String,
    pub contents: Vec<u8>,
}

/// One language of a challenge.
#[derive(Clone, Debug)]
pub struct LanguageEntry {
    /// The one file a submission provides, e.g. `rate_limiter.py`.
    pub entry: String,
    /// A one-line summary of the interface to implement.
    pub interface: String,
    pub starter: String,
    /// Hidden: never shown through the API.
    pub tests: Vec<ChallengeFile>,
    /// Hidden: the reference solution's entry file.
    pub solution: PathBuf,
}

/// A loaded, valid challenge.
#[derive(Clone, Debug)]
pub struct Challenge {
    pub slug: String,
    pub title: String,
    pub difficulty: Difficulty,
    pub category: String,
    pub tags: Vec<String>,
    pub summary: String,
    /// The statement (`README.md`), Markdown.
    pub statement: String,
    pub limits: ChallengeLimits,
    pub languages: BTreeMap<String, LanguageEntry>,
    pub dir: PathBuf,
}

/// Why a challenge was not loaded: which file, which field, what to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadProblem {
    pub path: PathBuf,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: `{field}`: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Every challenge that loaded, and what was wrong with the others.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    challenges: BTreeMap<String, Challenge>,
    pub problems: Vec<LoadProblem>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the challenges directory {path}: {source}")]
pub struct CatalogError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl Catalog {
    /// Loads every `<dir>/<slug>/challenge.toml`; only an unreadable `dir` is an error.
    pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
        let entries = std::fs::read_dir(dir).map_err(|source| CatalogError { path: dir.into(), source })?;
        let mut folders: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.join("challenge.toml").is_file()).collect();
        folders.sort();
        let mut catalog = Catalog::default();
        for folder in folders {
            match load_challenge(&folder) {
                Ok(challenge) => {
                    catalog.challenges.insert(challenge.slug.clone(), challenge);
                }
                Err(problem) => {
                    tracing::warn!(%problem, "challenge not loaded");
                    catalog.problems.push(problem);
                }
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, slug: &str) -> Option<&Challenge> {
        self.challenges.get(slug)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Challenge> {
        self.challenges.values()
    }

    pub fn len(&self) -> usize {
        self.challenges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.challenges.is_empty()
    }
}

/// A name usable as a slug or language id: lowercase letters, digits and dashes.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A plain file name: no directories, no `..`, no control characters.
pub fn is_plain_file_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s != "." && s != ".." && !s.contains('/') && !s.chars().any(|c| c.is_control())
}

fn problem(path: &Path, field: Option<&str>, message: impl Into<String>) -> LoadProblem {
    LoadProblem { path: path.into(), field: field.map(String::from), message: message.into() }
}

fn load_challenge(folder: &Path) -> Result<Challenge, LoadProblem> {
    let toml_path = folder.join("challenge.toml");
    let text = std::fs::read_to_string(&toml_path).map_err(|e| problem(&toml_path, None, e.to_string()))?;
    let parsed: ChallengeToml = toml::from_str(&text).map_err(|e| {
        let message = e.message().to_string();
        let location = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                format!(" (line {line})")
            })
            .unwrap_or_default();
        problem(&toml_path, None, format!("{message}{location}"))
    })?;
    let folder_name = folder.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if !is_slug(&parsed.slug) {
        return Err(problem(&toml_path, Some("slug"), "use lowercase letters, digits and dashes"));
    }
    if parsed.slug != folder_name {
        return Err(problem(
            &toml_path,
            Some("slug"),
            format!("is {:?} but the folder is {folder_name:?}", parsed.slug),
        ));
    }
    for (field, value) in [("title", &parsed.title), ("category", &parsed.category)] {
        if value.trim().is_empty() {
            return Err(problem(&toml_path, Some(field), "must not be empty"));
        }
    }
    validate_limits(&toml_path, &parsed.limits)?;
    if parsed.languages.is_empty() {
        return Err(problem(&toml_path, Some("languages"), "declare at least one language, e.g. [languages.python]"));
    }
    let statement_path = folder.join("README.md");
    let statement = std::fs::read_to_string(&statement_path)
        .map_err(|e| problem(&statement_path, None, format!("the statement is missing: {e}")))?;
    let mut languages = BTreeMap::new();
    for (language, declared) in parsed.languages {
        let field = format!("languages.{language}.entry");
        if !is_slug(&language) {
            return Err(problem(
                &toml_path,
                Some(&format!("languages.{language}")),
                "language ids are lowercase, e.g. python",
            ));
        }
        if !is_plain_file_name(&declared.entry) {
            return Err(problem(&toml_path, Some(&field), "must be a plain file name, e.g. rate_limiter.py"));
        }
        let lang_dir = folder.join(&language);
        let starter_path = lang_dir.join("starter").join(&declared.entry);
        let starter = std::fs::read_to_string(&starter_path)
            .map_err(|e| problem(&starter_path, Some(&field), format!("the starter file is missing: {e}")))?;
        let solution = lang_dir.join("solution").join(&declared.entry);
        if !solution.is_file() {
            return Err(problem(&solution, Some(&field), "the reference solution is missing"));
        }
        let tests = read_tests(&lang_dir.join("tests"))?;
        if tests.iter().any(|t| t.name == declared.entry) {
            return Err(problem(&lang_dir.join("tests"), Some(&field), "a hidden test file has the entry file's name"));
        }
        languages.insert(
            language,
            LanguageEntry { entry: declared.entry, interface: declared.interface, starter, tests, solution },
        );
    }
    Ok(Challenge {
        slug: parsed.slug,
        title: parsed.title,
        difficulty: parsed.difficulty,
        category: parsed.category,
        tags: parsed.tags,
        summary: parsed.summary,
        statement,
        limits: parsed.limits,
        languages,
        dir: folder.into(),
    })
}

fn validate_limits(path: &Path, limits: &ChallengeLimits) -> Result<(), LoadProblem> {
    let checks: [(&str, u64, u64, u64); 6] = [
        ("limits.run_wall_ms", limits.run_wall_ms, 100, 60_000),
        ("limits.run_cpu_ms", limits.run_cpu_ms, 100, 120_000),
        ("limits.compile_wall_ms", limits.compile_wall_ms, 100, 120_000),
        ("limits.memory_mb", limits.memory_mb, 16, 8192),
        ("limits.pids", limits.pids, 1, 4096),
        ("limits.output_bytes", limits.output_bytes, 1024, 64 << 20),
    ];
    for (field, value, min, max) in checks {
        if !(min..=max).contains(&value) {
            return Err(problem(path, Some(field), format!("{value} is outside {min}..={max}")));
        }
    }
    Ok(())
}

/// Reads the hidden test files (flat: the box is one directory).
fn read_tests(dir: &Path) -> Result<Vec<ChallengeFile>, LoadProblem> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| problem(dir, None, format!("the hidden tests are missing: {e}")))?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() {
            return Err(problem(&path, None, "tests/ must be flat: files only"));
        }
        let contents = std::fs::read(&path).map_err(|e| problem(&path, None, e.to_string()))?;
        files.push(ChallengeFile { name, contents });
    }
    if files.is_empty() {
        return Err(problem(dir, None, "there are no hidden tests"));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, contents: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn valid(root: &Path, slug: &str) {
        write(
            root,
            &format!("{slug}/challenge.toml"),
            &format!("slug = \"{slug}\"\ntitle = \"T\"\ndifficulty = \"easy\"\ncategory = \"Caching\"\n[languages.python]\nentry = \"sol.py\"\n"),
        );
        write(root, &format!("{slug}/README.md"), "# T\n");
        write(root, &format!("{slug}/python/starter/sol.py"), "pass\n");
        write(root, &format!("{slug}/python/solution/sol.py"), "pass\n");
        write(root, &format!("{slug}/python/tests/test_sol.py"), "import unittest\n");
    }

    #[test]
    fn a_valid_challenge_loads_with_default_limits() {
        let root = tempfile::tempdir().unwrap();
        valid(root.path(), "ok-one");
        let catalog = Catalog::load(root.path()).unwrap();
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        let c = catalog.get("ok-one").unwrap();
        assert_eq!(c.limits, ChallengeLimits::default());
        assert_eq!(c.languages["python"].tests[0].name, "test_sol.py");
        assert_eq!(c.languages["python"].starter, "pass\n");
    }

    #[test]
    fn a_malformed_challenge_is_reported_with_file_and_field_and_the_others_load() {
        let root = tempfile::tempdir().unwrap();
        valid(root.path(), "good");
        valid(root.path(), "bad-difficulty");
        let toml = root.path().join("bad-difficulty/challenge.toml");
        std::fs::write(&toml, std::fs::read_to_string(&toml).unwrap().replace("easy", "trivial")).unwrap();
        valid(root.path(), "bad-entry");
        let toml2 = root.path().join("bad-entry/challenge.toml");
        std::fs::write(&toml2, std::fs::read_to_string(&toml2).unwrap().replace("sol.py", "../sol.py")).unwrap();
        valid(root.path(), "no-tests");
        std::fs::remove_file(root.path().join("no-tests/python/tests/test_sol.py")).unwrap();
        valid(root.path(), "wrong-folder");
        let toml3 = root.path().join("wrong-folder/challenge.toml");
        std::fs::write(
            &toml3,
            std::fs::read_to_string(&toml3).unwrap().replace("slug = \"wrong-folder\"", "slug = \"other\""),
        )
        .unwrap();

        let catalog = Catalog::load(root.path()).unwrap();
        assert_eq!(catalog.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), ["good"]);
        let text: Vec<String> = catalog.problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(text.iter().any(|t| t.contains("bad-difficulty/challenge.toml") && t.contains("trivial")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("`languages.python.entry`: must be a plain file name")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("no-tests/python/tests") && t.contains("no hidden tests")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("`slug`: is \"other\" but the folder is \"wrong-folder\"")), "{text:?}");
    }

    #[test]
    fn limits_outside_sane_bounds_are_rejected_by_name() {
        let root = tempfile::tempdir().unwrap();
        valid(root.path(), "greedy");
        let toml = root.path().join("greedy/challenge.toml");
        let text = std::fs::read_to_string(&toml)
            .unwrap()
            .replace("[languages.python]", "[limits]\nmemory_mb = 999999\n[languages.python]");
        std::fs::write(&toml, text).unwrap();
        let catalog = Catalog::load(root.path()).unwrap();
        assert!(catalog.problems[0].to_string().contains("`limits.memory_mb`: 999999 is outside 16..=8192"));
    }

    #[test]
    fn file_names_with_paths_or_control_characters_are_not_plain() {
        for bad in ["", ".", "..", "a/b", "/abs", "a\0b", "a\nb"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        assert!(is_plain_file_name("rate_limiter.py"));
    }

    #[test]
    fn the_bundled_challenges_all_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../challenges");
        let catalog = Catalog::load(&dir).unwrap();
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        for challenge in catalog.iter() {
            let langs: Vec<&str> = challenge.languages.keys().map(String::as_str).collect();
            assert_eq!(langs, ["go", "java", "node", "python"], "{}", challenge.slug);
        }
    }
}
