//! Arbitrary bytes through the loader and, when they load, the offline plan builder; every
//! diagnostic is also rendered (as the terminal shows it, and as `validate --format json`
//! records), because a span outside its text would panic there. Any panic is a finding.
//!
//! Bytes that are not UTF-8 are read lossily: the loader's own UTF-8 check is covered by the
//! corpus (`tests/corpus/broken/yaml-not-utf8.yaml`), and this keeps every input useful.

#![no_main]

use std::path::Path;

use ecs_runbook::plan::{self, BuildOptions};
use ecs_runbook::runbook::{self, VarOverrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("fuzz.yaml");
    match runbook::load_str(path, &text, &VarOverrides::new()) {
        Ok(runbook) => {
            if let Err(error) = plan::build(&runbook, &BuildOptions::default()) {
                render(&error);
            }
        }
        Err(all) => {
            assert!(!all.is_empty(), "a failed load names at least one problem");
            let _ = all.records();
            render(&all);
        }
    }
});

fn render(diagnostic: &dyn miette::Diagnostic) {
    let mut out = String::new();
    let _ = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, diagnostic);
}
