//! "Did you mean" suggestions: the one place that decides which known name is close enough to
//! a misspelt one. Plurals are in `count`.
//!
//! Every "did you mean" in the loader (unknown keys, unknown steps, unknown variables, script
//! types, encodings, enum values) goes through [`nearest`], so they all behave alike.

/// The candidate closest to `word`, when one is close enough to be a plausible typo.
///
/// A candidate matches when it is equal to `word` ignoring case, `-` and `_` (so `dependsOn`
/// finds `depends_on`), or when their optimal-string-alignment distance (Levenshtein with
/// transpositions, so `mirgate` is one edit from `migrate`) is small for the word's length.
/// Ties go to the earlier candidate, so suggestions follow file or table order.
pub(crate) fn nearest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let folded = fold(word);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = if fold(candidate) == folded {
            0
        } else {
            osa_distance(&word.to_lowercase(), &candidate.to_lowercase())
        };
        let limit = match word.chars().count().max(candidate.chars().count()) {
            0..=3 => 1,
            4..=8 => 2,
            _ => 3,
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `word` in lower case without `-` and `_`.
fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost one.
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = value;
        }
    }
    d[a.len() * width + b.len()]
}

/// Names in backticks joined with commas and a final `or`: `` `a`, `b` or `c` ``.
pub(crate) fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let steps = ["compile", "test", "lint", "package", "migrate"];
        let table: &[(&str, Option<&str>)] = &[
            ("compille", Some("compile")),
            ("mirgate", Some("migrate")),
            ("tset", Some("test")),
            ("packages", Some("package")),
            ("deploy", None),
            ("x", None),
        ];
        for (word, expected) in table {
            assert_eq!(nearest(word, steps), *expected, "{word}");
        }
        let keys = ["depends_on", "script", "script_file", "working_dir"];
        assert_eq!(nearest("dependsOn", keys), Some("depends_on"));
        assert_eq!(nearest("workingDir", keys), Some("working_dir"));
        assert_eq!(nearest("scirpt", keys), Some("script"));
        assert_eq!(
            nearest("script", keys),
            None,
            "an exact name is not a suggestion"
        );
    }

    #[test]
    fn distances() {
        for (a, b, d) in [
            ("", "", 0),
            ("a", "", 1),
            ("abc", "acb", 1),
            ("kitten", "sitting", 3),
        ] {
            assert_eq!(osa_distance(a, b), d, "{a} {b}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
