//! [`FrequencyError`]: why a Frequency expression was refused, where, and how to fix it.
//!
//! This module only describes errors. Each parser builds its own, and the caller wraps them:
//! the loader in its runbook diagnostic, using [`FrequencyError::span`] to label the token
//! inside the YAML scalar, and the command line in an [`ExpressionDiagnostic`], which labels
//! the token inside the expression as typed.

use std::fmt;
use std::ops::Range;

use miette::{LabeledSpan, NamedSource, SourceCode};

/// What kind of problem an error reports, named after the agent's own error where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrequencyErrorKind {
    /// The text is not a Frequency expression Cloud Assistant reads (`InvalidRateExpression`,
    /// `InvalidAtExpression`, `InvalidCronExpression`).
    Syntax,
    /// The expression is written in another scheduler's dialect (crontab, Quartz macros, AWS).
    Dialect,
    /// The time-zone suffix is not one Cloud Assistant reads (`TimezoneInformationCorrupt`,
    /// `InvalidGMTOffsetForTimezone`).
    Zone,
    /// Alibaba's documents and the agent disagree about the form, so it is refused rather than
    /// guessed at.
    Ambiguous,
    /// A limit of the API: rate bounds, the minimum cron interval, interval against timeout.
    Limit,
    /// The schedule has no run after now (`AtExpressionExpired`, `CronExpressionExpired`).
    Expired,
}

/// A refused Frequency expression.
///
/// `message` is a lower-case fragment with names in backticks; `help` says how to fix it,
/// usually with the corrected expression; `span` is the byte range of the offending token in the
/// expression as given to [`parse`](super::parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrequencyError {
    /// What went wrong.
    pub kind: FrequencyErrorKind,
    /// The offending token, as written.
    pub token: String,
    /// Byte range of `token` within the expression.
    pub span: Range<usize>,
    /// What is wrong, e.g. "unknown time zone `Asia/Shanghia`".
    pub message: String,
    /// How to fix it, e.g. "did you mean `Asia/Shanghai`?".
    pub help: String,
    /// The text that should replace `token`, when the fix is that simple.
    pub replacement: Option<String>,
}

impl FrequencyErrorKind {
    /// A short label for the offending token in a rendered diagnostic.
    pub fn label(self) -> &'static str {
        match self {
            Self::Syntax => "not Cloud Assistant's syntax",
            Self::Dialect => "another scheduler's dialect",
            Self::Zone => "time zone",
            Self::Ambiguous => "ambiguous",
            Self::Limit => "outside Cloud Assistant's limits",
            Self::Expired => "no run",
        }
    }
}

impl FrequencyError {
    /// An error about `expr[span]`.
    pub(crate) fn new(
        kind: FrequencyErrorKind,
        expr: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        let token = expr.get(span.clone()).unwrap_or(expr).to_owned();
        Self {
            kind,
            token,
            span,
            message: message.into(),
            help: help.into(),
            replacement: None,
        }
    }

    /// Records the text that should replace the token.
    pub(crate) fn with_replacement(mut self, replacement: impl Into<String>) -> Self {
        self.replacement = Some(replacement.into());
        self
    }

    /// Moves the span right by `offset` bytes, for an error found in a part of a larger text.
    pub(crate) fn shifted(mut self, offset: usize) -> Self {
        self.span = self.span.start + offset..self.span.end + offset;
        self
    }
}

impl fmt::Display for FrequencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FrequencyError {}

/// A refused expression typed on the command line (`schedule preview EXPR`), rendered with the
/// expression as its source so the label points at the offending token.
#[derive(Debug)]
pub struct ExpressionDiagnostic(Box<(FrequencyError, NamedSource<String>)>);

impl ExpressionDiagnostic {
    /// Wraps `error`, found in `expr`.
    pub fn new(expr: &str, error: FrequencyError) -> Self {
        Self(Box::new((
            error,
            NamedSource::new("expression", expr.to_owned()),
        )))
    }

    /// Why the expression was refused.
    pub fn error(&self) -> &FrequencyError {
        &self.0.0
    }
}

impl fmt::Display for ExpressionDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error().message)
    }
}

impl std::error::Error for ExpressionDiagnostic {}

impl miette::Diagnostic for ExpressionDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("ecs_runbook::frequency"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.error().help))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.0.1)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let error = self.error();
        let span = &error.span;
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some(error.kind.label().to_owned()),
            span.start,
            span.len(),
        ))))
    }
}

/// `expr` with `span` replaced by `with`: the corrected expression for a help line.
pub(crate) fn replaced(expr: &str, span: &Range<usize>, with: &str) -> String {
    format!("{}{with}{}", &expr[..span.start], &expr[span.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comes_from_the_span() {
        let e = FrequencyError::new(
            FrequencyErrorKind::Zone,
            "0 0 9 * * ? GMT+08:00",
            12..21,
            "m",
            "h",
        );
        assert_eq!(e.token, "GMT+08:00");
        assert_eq!(e.to_string(), "m");
        assert_eq!(e.shifted(2).span, 14..23);
    }

    #[test]
    fn replaced_rewrites_one_token() {
        assert_eq!(
            replaced("0 0 9 * * ? GMT+08:00", &(12..21), "GMT+8:00"),
            "0 0 9 * * ? GMT+8:00"
        );
    }
}
