//! The broken-runbook corpus: every file in `tests/corpus/broken/` fails to load with exactly
//! the diagnostics listed for it in `tests/corpus/broken/expected.txt` (message, line and
//! column), and none panics; the files in `tests/corpus/valid/` load, with the values the
//! public bug cases (B12, B16) require.
//!
//! Each line of `expected.txt` is `FILE: LINE:COL: MESSAGE` (`-` for a problem with no place,
//! `OTHER@LINE:COL` for one in another file, such as a `--vars-file`). A corpus file may start
//! with `# args: --var k=v --vars-file F` to load it with overrides. After an intended change,
//! regenerate the table with `UPDATE_CORPUS=1 cargo test --test integration corpus` and review
//! the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ecs_runbook::runbook::diagnostic::line_col;
use ecs_runbook::runbook::{Diagnostics, Runbook, VarOverrides, load_with};

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// The `.yaml` files of a corpus directory, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus directory exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("_"))
        })
        .collect();
    files.sort();
    files
}

/// Overrides from a `# args:` first line.
fn overrides(path: &Path) -> VarOverrides {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_default();
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches('\u{feff}');
    let mut overrides = VarOverrides::new();
    if let Some(args) = first.strip_prefix("# args:") {
        let mut words = args.split_whitespace();
        while let Some(word) = words.next() {
            match word {
                "--var" => overrides = overrides.var(words.next().expect("a --var value")),
                "--vars-file" => {
                    let file = words.next().expect("a --vars-file value");
                    overrides = overrides.vars_file(path.parent().expect("a parent").join(file));
                }
                other => panic!("unknown corpus argument {other}"),
            }
        }
    }
    overrides
}

fn load_file(path: &Path) -> Result<Runbook, Diagnostics> {
    load_with(path, &overrides(path))
}

/// `LINE:COL: MESSAGE` lines of a load's problems, paths relative to the corpus.
fn lines(dir: &Path, all: &Diagnostics) -> Vec<String> {
    all.errors
        .iter()
        .map(|d| {
            let location = match (d.span(), d.own_source()) {
                (None, _) => "-".to_owned(),
                (Some(span), None) => {
                    let (line, col) = line_col(all.source.inner(), span.offset());
                    format!("{line}:{col}")
                }
                (Some(span), Some(other)) => {
                    let (line, col) = line_col(other.inner(), span.offset());
                    let name = Path::new(other.name())
                        .strip_prefix(dir)
                        .map_or_else(|_| other.name().to_owned(), |p| p.display().to_string());
                    format!("{name}@{line}:{col}")
                }
            };
            // Paths inside messages are made relative, so the table holds on any machine.
            let prefix = format!("{}/", dir.display());
            format!("{location}: {}", d.to_string().replace(&prefix, ""))
        })
        .collect()
}

/// Renders `all` as the terminal would show it, without colour.
pub(crate) fn render(all: &Diagnostics) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, all)
        .expect("rendering into a string");
    out
}

#[test]
fn broken_runbooks_give_their_expected_diagnostics() {
    let dir = corpus("broken");
    let table_path = dir.join("expected.txt");
    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in files(&dir) {
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let result = std::panic::catch_unwind(|| load_file(&path));
        match result {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Ok(_)) => failures.push(format!("{name}: loaded without errors")),
            Ok(Err(all)) => {
                // Rendering must not panic either (spans inside the text, and so on).
                match std::panic::catch_unwind(|| render(&all)) {
                    Err(_) => failures.push(format!("{name}: rendering panicked")),
                    // `CORPUS_SHOW=part-of-a-name` prints the rendering, for review.
                    Ok(text) => {
                        if std::env::var("CORPUS_SHOW").is_ok_and(|s| name.contains(&s)) {
                            eprintln!("==== {name}\n{text}");
                        }
                    }
                }
                actual.insert(name, lines(&dir, &all));
            }
        }
    }
    let generated: String = actual
        .iter()
        .flat_map(|(file, lines)| lines.iter().map(move |l| format!("{file}: {l}\n")))
        .collect();
    if std::env::var_os("UPDATE_CORPUS").is_some() {
        std::fs::write(&table_path, &generated).expect("write expected.txt");
    }
    let expected = std::fs::read_to_string(&table_path).unwrap_or_default();
    let mut expected_by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let (file, rest) = line.split_once(": ").expect("`FILE: ...` lines");
        expected_by_file
            .entry(file.to_owned())
            .or_default()
            .push(rest.to_owned());
    }
    for (file, lines) in &actual {
        match expected_by_file.get(file) {
            None => failures.push(format!("{file}: no expected diagnostics in expected.txt")),
            Some(want) if want != lines => failures.push(format!(
                "{file}:\n  expected:\n    {}\n  actual:\n    {}",
                want.join("\n    "),
                lines.join("\n    ")
            )),
            Some(_) => {}
        }
    }
    for file in expected_by_file.keys() {
        if !actual.contains_key(file) {
            failures.push(format!(
                "{file}: listed in expected.txt but not in the corpus"
            ));
        }
    }
    assert!(
        actual.len() >= 60,
        "the corpus has {} broken runbooks, fewer than 60",
        actual.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_runbooks_load() {
    for path in files(&corpus("valid")) {
        if let Err(all) = load_file(&path) {
            panic!("{} should load:\n{}", path.display(), render(&all));
        }
    }
}
