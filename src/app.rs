//! The commands: what each subcommand does with the pipeline stages, and where its output goes.
//!
//! Results go to stdout, progress and diagnostics to stderr. A tokio runtime is built only for
//! the commands that talk to an API (`run`, `sandbox`, the `schedule` commands but `preview`,
//! and `plan` unless `--offline`), so `validate`, `schedule preview` and offline plans never
//! start one. The `schedule` commands live in `app::schedule`.

mod schedule;

use std::collections::HashSet;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use clap::CommandFactory as _;

use crate::cli::{
    Cli, Command, OutputFormat, PlanArgs, PlanFormat, ReportArgs, ResumeArgs, RunArgs, SandboxArgs,
    Shell, Signature, TargetArgs, ValidateArgs, VarArgs,
};
use crate::cloud::credential::Credential;
use crate::cloud::id::RegionId;
use crate::cloud::profile;
use crate::cloud::transport::ENV_ENDPOINT;
use crate::cloud::{Client, ClientBuilder, SignatureVersion};
use crate::error::{EXIT_INVALID_INPUT, EXIT_OK, Error};
use crate::exec::journal::{Journal, Replay, RunDir};
use crate::exec::report::json::ReportContext;
use crate::exec::{
    self, Cancel, PollConfig, Resume, RunConfig, RunInput, RunOutputs, RunSettings, RunSummary,
    SecretValues,
};
use crate::plan::display::{self, Format};
use crate::plan::inventory::Inventory;
use crate::plan::model::{Plan, SecretRef};
use crate::plan::{self as planning, BuildOptions};
use crate::runbook::{self, Runbook, VarOverrides};
use crate::sandbox;

/// The environment variable the official SDKs read for the region.
pub const ENV_REGION: &str = "ALIBABA_CLOUD_REGION_ID";

/// Runs the command line; returns the exit code for a run that ended without an error.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Plan(args) => plan(&args),
        Command::Run(args) => run_command(&args),
        Command::Resume(args) => resume(&args),
        Command::Schedule(args) => schedule::command(&args),
        Command::Sandbox(args) => serve_sandbox(&args),
        Command::Schema => {
            let mut text = serde_json::to_string_pretty(&runbook::schema::json())
                .expect("the schema serialises");
            text.push('\n');
            write_output(None, &text)?;
            Ok(EXIT_OK)
        }
        Command::Completions(args) => {
            let shell = match args.shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
                Shell::Powershell => clap_complete::Shell::PowerShell,
            };
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ecs-runbook", &mut script);
            write_output(None, &String::from_utf8_lossy(&script))?;
            Ok(EXIT_OK)
        }
        Command::Man(args) => {
            write_output(None, &man_page(&args.command)?)?;
            Ok(EXIT_OK)
        }
    }
}

/// The roff man page of the tool, or of the subcommand `path` names (`["schedule", "apply"]`),
/// titled as `man` expects (`ecs-runbook-schedule-apply`).
fn man_page(path: &[String]) -> Result<String, Error> {
    let mut command = Cli::command();
    command.build();
    let mut name = "ecs-runbook".to_owned();
    for part in path {
        let Some(sub) = command.find_subcommand(part).cloned() else {
            let known: Vec<String> = command
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .filter(|n| n != "help")
                .collect();
            let near = crate::suggest::nearest(part, known.iter().map(String::as_str))
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(Error::usage(
                format!("`{name}` has no subcommand `{part}`"),
                Some(format!("{near}its subcommands: {}", known.join(", "))),
            ));
        };
        name = format!("{name}-{part}");
        command = sub.version(env!("CARGO_PKG_VERSION"));
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .title(name)
        .render(&mut page)
        .expect("rendering into memory cannot fail");
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// Pins the clock of schedule previews and expiry checks (RFC 3339), for reproducible plans.
pub const ENV_NOW: &str = "ECS_RUNBOOK_NOW";

/// "Now": [`ENV_NOW`] when set, else the system clock.
pub(crate) fn clock() -> Result<chrono::DateTime<chrono::Utc>, Error> {
    match std::env::var(ENV_NOW) {
        Ok(text) if !text.is_empty() => crate::schedule::parse_time(&text).map_err(|message| {
            Error::usage(
                format!("`{ENV_NOW}`: {message}"),
                Some(format!("unset `{ENV_NOW}` to use the system clock")),
            )
        }),
        _ => Ok(chrono::Utc::now()),
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can always be built here")
}

fn load(path: &Path, vars: &VarArgs) -> Result<Runbook, Error> {
    let mut overrides = VarOverrides::new();
    if let Some(file) = &vars.vars_file {
        overrides = overrides.vars_file(file);
    }
    for arg in &vars.vars {
        overrides = overrides.var(arg);
    }
    Ok(runbook::load_with(path, &overrides)?)
}

fn fleet_error(error: sandbox::FleetError) -> Error {
    match error {
        sandbox::FleetError::Yaml(diagnostics) => Error::Runbook(diagnostics),
        other => Error::usage(other.to_string(), None),
    }
}

fn start_error(error: sandbox::StartError) -> Error {
    match error {
        sandbox::StartError::Fleet(fleet) => fleet_error(fleet),
        sandbox::StartError::NonLoopback(_) => Error::usage(
            error.to_string(),
            Some(
                "pass `--allow-non-loopback` only on a machine where that is acceptable".to_owned(),
            ),
        ),
        other => Error::Sandbox(other.to_string()),
    }
}

/// Every `.yaml` / `.yml` file under `paths`, in sorted order.
/// The runbook files of `paths` (folders searched recursively). With `empty_is_error`, a
/// folder holding none is a usage error; `schedule apply` allows it (every schedule removed).
fn runbook_files(paths: &[PathBuf], empty_is_error: bool) -> Result<Vec<PathBuf>, Error> {
    /// Walks `dir`, following symbolic links but entering each real directory once, so a
    /// link loop or two links to one folder neither hang nor repeat.
    fn walk(
        dir: &Path,
        seen_dirs: &mut HashSet<PathBuf>,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), Error> {
        let io = |source| Error::Io {
            action: "read",
            path: dir.to_owned(),
            source,
        };
        if !seen_dirs.insert(std::fs::canonicalize(dir).map_err(io)?) {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(io)?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                walk(&path, seen_dirs, out)?;
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
            {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        if path.is_dir() {
            if std::fs::canonicalize(path).is_ok_and(|c| seen_dirs.contains(&c)) {
                continue;
            }
            let before = out.len();
            walk(path, &mut seen_dirs, &mut out)?;
            if empty_is_error && out.len() == before {
                return Err(Error::usage(
                    format!(
                        "no runbook (`*.yaml` or `*.yml`) under `{}`",
                        path.display()
                    ),
                    Some(
                        "give runbook files or folders that hold some (hidden folders are \
                         skipped); a folder without runbooks is most likely a wrong path"
                            .to_owned(),
                    ),
                ));
            }
        } else {
            out.push(path.clone());
        }
    }
    // The same file reached twice (two links, or a file and its folder) is checked once.
    let mut seen_files = HashSet::new();
    out.retain(|p| seen_files.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

fn validate(args: &ValidateArgs) -> Result<i32, Error> {
    let files = runbook_files(&args.paths, true)?;
    let mut failed = 0;
    let mut reports = Vec::new();
    let stderr = std::io::stderr();
    for file in &files {
        // Loading checks everything, templates included, and reports it all at once.
        let problems = runbook::load(file).err();
        if problems.is_some() {
            failed += 1;
        }
        match args.format {
            OutputFormat::Text => match &problems {
                None => write_output(None, &format!("ok {}\n", file.display()))?,
                Some(all) => {
                    let _ = writeln!(stderr.lock(), "{}", render_diagnostic(all));
                    write_output(None, &format!("error {}\n", file.display()))?;
                }
            },
            OutputFormat::Json => reports.push(serde_json::json!({
                "path": file.display().to_string(),
                "ok": problems.is_none(),
                "diagnostics": problems.map_or_else(|| serde_json::json!([]), |all| all.to_json()),
            })),
        }
    }
    if args.format == OutputFormat::Json {
        let doc = serde_json::json!({"files": reports, "errors": failed});
        let mut text = serde_json::to_string_pretty(&doc).expect("JSON serialises");
        text.push('\n');
        write_output(None, &text)?;
    } else {
        let _ = writeln!(
            stderr.lock(),
            "{} checked, {} with errors",
            crate::count::Count(files.len(), "runbook"),
            failed
        );
    }
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_INVALID_INPUT
    })
}

/// Renders a diagnostic the way `main` does, for commands that report several.
pub fn render_diagnostic(diagnostic: &dyn miette::Diagnostic) -> String {
    let theme = if color_enabled() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    let _ = miette::GraphicalReportHandler::new_themed(theme).render_report(&mut out, diagnostic);
    out
}

/// Sends `tracing` logs to stderr: `-v` debug for this crate (each API call), `-vv` trace
/// (request parameters, redacted); `RUST_LOG` replaces both. Plain text unless stderr is a
/// terminal and `NO_COLOR` is unset.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,ecs_runbook=debug",
        _ => "warn,ecs_runbook=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color_enabled())
        .try_init();
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn plan_format(format: PlanFormat) -> Format {
    match format {
        PlanFormat::Text => Format::Text,
        PlanFormat::Markdown => Format::Markdown,
        PlanFormat::Json => Format::Json,
        PlanFormat::Mermaid => Format::Mermaid,
        PlanFormat::Dot => Format::Dot,
    }
}

fn plan(args: &PlanArgs) -> Result<i32, Error> {
    if args.offline && args.target.endpoint.is_some() {
        return Err(Error::usage(
            "`--offline` makes no call, so `--endpoint` would not be used",
            Some(
                "drop `--endpoint` to plan offline, or `--offline` to check the targets there"
                    .to_owned(),
            ),
        ));
    }
    if let Some(output) = &args.output {
        let inputs = std::iter::once(&args.file).chain(args.vars.vars_file.as_ref());
        if let Some(input) = inputs.into_iter().find(|input| same_file(input, output)) {
            return Err(Error::usage(
                format!(
                    "`-o {}` would overwrite `{}`, an input of this plan",
                    output.display(),
                    input.display()
                ),
                Some("write the plan to its own file, such as `-o plan.json`".to_owned()),
            ));
        }
    }
    let runbook = load(&args.file, &args.vars)?;
    let inventory = if args.offline {
        None
    } else {
        let rt = runtime();
        Some(rt.block_on(async {
            let target = Target::connect(&args.target, runbook.region.as_ref()).await?;
            let inventory = exec::inventory::fetch(&target.client, &runbook).await?;
            target.shutdown().await;
            Ok::<_, Error>(inventory)
        })?)
    };
    let plan = planning::build(
        &runbook,
        &BuildOptions {
            inventory,
            now: Some(clock()?),
        },
    )?;
    let text = display::render(&plan, plan_format(args.format));
    write_output(args.output.as_deref(), &text)?;
    Ok(EXIT_OK)
}

fn write_output(path: Option<&Path>, text: &str) -> Result<(), Error> {
    if let Some(path) = path {
        std::fs::write(path, text).map_err(|source| Error::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    } else {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        Ok(())
    }
}

/// Where API calls go: a client, and the in-process sandbox when one was started for it.
struct Target {
    client: Client,
    sandbox: Option<sandbox::RunningSandbox>,
}

impl Target {
    async fn connect(args: &TargetArgs, runbook_region: Option<&RegionId>) -> Result<Self, Error> {
        let region = args
            .region
            .clone()
            .map(RegionId::new)
            .or_else(|| runbook_region.cloned());
        let endpoint = endpoint(args)?;
        if args.sandbox {
            let mut config = sandbox::SandboxConfig::default();
            if let Some(path) = &args.fleet {
                config.fleet = sandbox::Fleet::load(path).map_err(fleet_error)?;
            }
            let running = sandbox::start(config).await.map_err(start_error)?;
            let region = region.unwrap_or_else(|| RegionId::new("cn-hangzhou"));
            let client = ClientBuilder::new(region, Credential::sandbox())
                .endpoint(running.url())
                .signature(signature_version(args.signature))
                .build();
            return Ok(Self {
                client,
                sandbox: Some(running),
            });
        }
        let resolved = profile::resolve_default(args.profile.as_deref())?;
        let region = region.or(resolved.region).or_else(|| {
            std::env::var(ENV_REGION)
                .ok()
                .filter(|r| !r.is_empty())
                .map(RegionId::new)
        });
        let Some(region) = region else {
            return Err(Error::usage(
                "no region: neither `--region`, the runbook's `region`, the profile's region nor `ALIBABA_CLOUD_REGION_ID` is set",
                Some(
                    "pass `--region cn-hangzhou` (for example), set `ALIBABA_CLOUD_REGION_ID`, or \
                     add `region:` to the runbook or `region_id` to the aliyun CLI profile"
                        .to_owned(),
                ),
            ));
        };
        let mut builder = ClientBuilder::new(region, resolved.credential)
            .signature(signature_version(args.signature));
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint(endpoint);
        }
        Ok(Self {
            client: builder.build(),
            sandbox: None,
        })
    }

    async fn shutdown(self) {
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// The endpoint calls go to: `--endpoint`, else [`ENV_ENDPOINT`], else none (the regional
/// one). `--sandbox` with `--endpoint` is refused; with only the environment variable set the
/// sandbox wins, as `plan --offline` ignores it.
fn endpoint(args: &TargetArgs) -> Result<Option<String>, Error> {
    let (text, source) = match &args.endpoint {
        Some(_) if args.sandbox => {
            return Err(Error::usage(
                "`--sandbox` and `--endpoint` both say where calls go",
                Some(
                    "pass `--sandbox` to start one in this process, or `--endpoint URL` for a running `ecs-runbook sandbox` or the cloud, not both"
                        .to_owned(),
                ),
            ));
        }
        Some(flag) => (flag.clone(), "--endpoint "),
        None if args.sandbox => return Ok(None),
        None => match std::env::var(ENV_ENDPOINT) {
            Ok(text) if !text.is_empty() => (text, "ECS_RUNBOOK_ENDPOINT="),
            _ => return Ok(None),
        },
    };
    check_endpoint(&text)
        .map(|url| Some(url.to_owned()))
        .map_err(|(problem, help)| Error::usage(format!("`{source}{text}` {problem}"), Some(help)))
}

/// An endpoint is `http://` or `https://`, a host and an optional port, and an optional final
/// `/` (dropped); no path, query or spaces. Returns the URL to use, or the problem and a fix.
pub(crate) fn check_endpoint(text: &str) -> Result<&str, (String, String)> {
    let Some((scheme, rest)) = text.split_once("://") else {
        let host = text.strip_suffix('/').unwrap_or(text);
        return Err((
            "has no scheme".to_owned(),
            format!("write `https://{host}`"),
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let url = &text[..scheme.len() + 3 + authority.len()];
    if scheme != "https" && scheme != "http" {
        return Err((
            format!("has the scheme `{scheme}`, not `https` or `http`"),
            format!("write `https://{authority}`"),
        ));
    }
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ', '@']) {
        return Err((
            "is not a scheme and a host (with an optional port) alone".to_owned(),
            "for example `https://ecs-vpc.cn-hangzhou.aliyuncs.com` or `http://127.0.0.1:8080`"
                .to_owned(),
        ));
    }
    Ok(url)
}

fn signature_version(signature: Signature) -> SignatureVersion {
    match signature {
        Signature::V1 => SignatureVersion::V1,
        Signature::V3 => SignatureVersion::V3,
    }
}

/// A saved plan that parses and whose integrity hash matches its content.
fn parse_plan(path: &Path) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| Error::PlanFile {
        message: format!("`{}` is not a saved plan: {e}", path.display()),
        help: Some(
            "write one with `ecs-runbook plan RUNBOOK --format json -o plan.json`".to_owned(),
        ),
    })?;
    if !plan.is_intact() {
        return Err(Error::PlanFile {
            message: format!(
                "plan `{}` was edited after it was written: its integrity hash does not match its content",
                path.display()
            ),
            help: Some(
                "write the plan again with `ecs-runbook plan … --format json -o …` and review it"
                    .to_owned(),
            ),
        });
    }
    Ok(plan)
}

fn read_plan(path: &Path) -> Result<Plan, Error> {
    let plan = parse_plan(path)?;
    let runbook_path = PathBuf::from(&plan.runbook.path);
    let bytes = std::fs::read(&runbook_path).map_err(|source| Error::PlanFile {
        message: format!(
            "cannot check the runbook of plan `{}`: `{}`: {source}",
            path.display(),
            runbook_path.display()
        ),
        help: Some("run from the directory the plan was written in".to_owned()),
    })?;
    let hash = runbook::hash(&bytes);
    if hash != plan.runbook.hash {
        return Err(Error::PlanFile {
            message: format!(
                "runbook `{}` changed since plan `{}` was written",
                runbook_path.display(),
                path.display()
            ),
            help: Some("plan it again and review the new plan".to_owned()),
        });
    }
    Ok(plan)
}

fn resolve_secrets(plan: &Plan, base: &Path) -> Result<SecretValues, Error> {
    let mut values = SecretValues::default();
    for (name, source) in &plan.secrets {
        let value = match source {
            SecretRef::Env(var) => std::env::var(var).map_err(|_| {
                Error::usage(
                    format!("secret variable `{name}` needs environment variable `{var}`, which is not set"),
                    Some(format!("export {var}=… before running")),
                )
            })?,
            SecretRef::File(file) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                    action: "read",
                    path: path.clone(),
                    source,
                })?;
                text.strip_suffix('\n').unwrap_or(&text).to_owned()
            }
        };
        let length = value.chars().count();
        if length < MIN_SECRET_CHARS {
            // Never echo the value, not even its characters' classes.
            return Err(Error::usage(
                format!(
                    "secret variable `{name}` is {} long: a secret that short cannot be masked in \
                     instance output without masking ordinary text as well",
                    crate::count::Count(length, "character")
                ),
                Some(format!(
                    "use a secret of at least {MIN_SECRET_CHARS} characters, or make `{name}` a \
                     plain variable if it is not secret"
                )),
            ));
        }
        values.0.insert(name.clone(), value);
    }
    Ok(values)
}

/// The shortest secret value `run` accepts: output is masked by the value, and a shorter one
/// would hide ordinary text (every `a` of the output for the secret `a`).
const MIN_SECRET_CHARS: usize = 4;

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let mut jitter = crate::cloud::retry::Jitter::from_entropy();
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        jitter.below(0x100_0000)
    )
}

/// Whether `endpoint` is on this machine (a standalone `ecs-runbook sandbox`, say): such a run
/// needs no confirmation, as the in-process sandbox needs none.
fn is_loopback(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint).is_ok_and(|url| {
        url.host_str().is_some_and(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    })
}

fn confirm(plan: &Plan, target: &Target) -> Result<(), Error> {
    if is_loopback(target.client.endpoint()) {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::usage(
            format!(
                "refusing to run `{}` against {} without confirmation",
                plan.runbook.name,
                target.client.endpoint()
            ),
            Some("review `ecs-runbook plan` first, then pass `--yes`".to_owned()),
        ));
    }
    eprint!(
        "run `{}` ({}) against {}? [y/N] ",
        plan.runbook.name,
        crate::count::Count(plan.steps.len(), "step"),
        target.client.endpoint()
    );
    let mut answer = String::new();
    let _ = stdin.read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::usage("not confirmed; nothing was run", None))
    }
}

fn timeout_grace(text: &str) -> Result<Duration, Error> {
    crate::runbook::load::parse_duration(text)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            Error::usage(
                format!("`--timeout-grace {text}` is not a duration"),
                Some("write seconds (`30`) or a duration such as `30s`, `2m`".to_owned()),
            )
        })
}

fn working_dir() -> Result<PathBuf, Error> {
    std::env::current_dir().map_err(|source| Error::Io {
        action: "read",
        path: PathBuf::from("."),
        source,
    })
}

/// A saved plan for `run --plan`: its variables are fixed, so `--var` / `--vars-file` are refused.
fn read_saved_plan(plan: &Path, vars: &VarArgs) -> Result<Plan, Error> {
    if !vars.vars.is_empty() || vars.vars_file.is_some() {
        return Err(Error::usage(
            "`--var` and `--vars-file` do not apply to a saved plan: its variables were \
             fixed when it was written",
            Some(format!(
                "plan again with the new values (`ecs-runbook plan RUNBOOK --var k=v \
                 --format json -o {}`), or run the runbook itself",
                plan.display()
            )),
        ));
    }
    read_plan(plan)
}

fn run_command(args: &RunArgs) -> Result<i32, Error> {
    // Everything that can be checked offline is checked before any API call.
    let (runbook, saved) = match (&args.file, &args.plan) {
        (Some(file), None) => (Some(load(file, &args.vars)?), None),
        (None, Some(plan)) => (None, Some(read_saved_plan(plan, &args.vars)?)),
        _ => unreachable!("clap requires exactly one of FILE and --plan"),
    };
    // Template errors, and a schedule `run` cannot create, are input errors: report them
    // before starting anything.
    schedule::check_run(runbook.as_ref(), saved.as_ref(), args.once)?;
    let inputs = [&args.file, &args.plan, &args.vars.vars_file];
    check_report_paths(
        &args.reports,
        &inputs
            .map(Option::as_deref)
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    )?;
    if args.max_parallel == 0 {
        return Err(Error::usage(
            "`--max-parallel 0` would never start a step",
            Some("pass `--max-parallel 1` to run one step at a time".to_owned()),
        ));
    }
    let settings = RunSettings {
        max_parallel: args.max_parallel,
        keep_commands: args.keep_commands,
        timeout_grace_ms: u64::try_from(timeout_grace(&args.timeout_grace)?.as_millis())
            .unwrap_or(u64::MAX),
        start_stopped: args.preflight.start_stopped,
        install_agent: args.preflight.install_agent,
    };
    let base = working_dir()?;
    let rt = runtime();
    rt.block_on(async {
        let region = runbook.as_ref().and_then(|r| r.region.clone()).or_else(|| {
            saved
                .as_ref()
                .and_then(|p| p.region.clone())
                .map(RegionId::new)
        });
        let target = Target::connect(&args.target, region.as_ref()).await?;
        let check_drift = saved.is_some();
        let (plan, inventory) = match (runbook, saved) {
            (Some(runbook), _) => {
                let inventory = exec::inventory::fetch(&target.client, &runbook).await?;
                let plan = planning::build(
                    &runbook,
                    &BuildOptions {
                        inventory: Some(inventory.clone()),
                        now: Some(clock()?),
                    },
                )?;
                (plan, inventory)
            }
            (None, Some(plan)) => {
                let inventory = exec::inventory::fetch_plan(&target.client, &plan).await?;
                (plan, inventory)
            }
            (None, None) => unreachable!("one of them is set"),
        };
        refuse_empty_targets(&plan)?;
        refuse_oversized_scripts(&plan)?;
        if !args.yes && target.sandbox.is_none() {
            confirm(&plan, &target)?;
        }
        let secrets = resolve_secrets(&plan, &runbook_dir(&plan))?;
        if plan.schedule.is_some() && !args.once {
            return schedule::run_timed(target, &plan, &secrets, args.format).await;
        }
        let run_id = new_run_id();
        let run_dir = RunDir::create(&base, &run_id).map_err(|source| Error::Io {
            action: "create",
            path: base.join(exec::journal::RUNS_DIR).join(&run_id),
            source,
        })?;
        write_file(&run_dir.plan(), &display::render(&plan, Format::Json))?;
        let journal = open_journal(&run_dir, 0)?;
        let config = run_config(run_id, settings, target.sandbox.is_some());
        let code = execute(Execution {
            target: &target,
            plan: &plan,
            inventory: &inventory,
            secrets: &secrets,
            config: &config,
            run_dir: &run_dir,
            journal: Some(journal),
            resume: None,
            check_drift,
            reports: &args.reports,
            format: args.format,
        })
        .await;
        target.shutdown().await;
        code
    })
}

/// A main step whose targets match no instance would "succeed" on nothing: a tag typo must not
/// look like a done job, so the run does not start.
fn refuse_empty_targets(plan: &Plan) -> Result<(), Error> {
    let empty: Vec<String> = plan
        .steps
        .iter()
        .filter(|step| step.targets.instances.as_ref().is_some_and(Vec::is_empty))
        .map(|step| {
            let tags: Vec<String> = step
                .targets
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if tags.is_empty() {
                format!("`{}`", step.name)
            } else {
                format!("`{}` (tags {})", step.name, tags.join(", "))
            }
        })
        .collect();
    if empty.is_empty() {
        return Ok(());
    }
    Err(Error::NoTargets {
        message: format!(
            "no instance matches the targets of {} {}; nothing was run",
            if empty.len() == 1 { "step" } else { "steps" },
            empty.join(", ")
        ),
        help: "check the tag keys and values (`ecs-runbook plan` shows what each tag set \
               resolves to, and DescribeInstances lists the instances' tags); a tag match is \
               exact and case-sensitive"
            .to_owned(),
    })
}

/// A script over the largest CommandContent any source accepts would fail at its
/// CreateCommand, after the steps before it ran: refuse the run before anything starts.
fn refuse_oversized_scripts(plan: &Plan) -> Result<(), Error> {
    use crate::plan::calls::{MAX_CONTENT_BYTES_ANY, content_len};
    use crate::plan::model::PlanScript;
    for step in plan.steps.iter().chain(&plan.rollback) {
        let PlanScript::Rendered(rendered) = &step.script else {
            continue;
        };
        let encoded = content_len(rendered);
        if encoded > MAX_CONTENT_BYTES_ANY {
            return Err(Error::usage(
                format!(
                    "step `{}`: the script is {} after Base64, over the {} KB CommandContent \
                     that CreateCommand accepts at most; nothing was run",
                    step.name,
                    crate::count::Count(encoded, "byte"),
                    MAX_CONTENT_BYTES_ANY / 1024
                ),
                Some(
                    "keep the script small: fetch the bulk (a package, a data file) from where \
                     the instance can download it, or split the step"
                        .to_owned(),
                ),
            ));
        }
    }
    Ok(())
}

fn run_config(run_id: String, settings: RunSettings, sandbox: bool) -> RunConfig {
    RunConfig {
        run_id,
        settings,
        poll: PollConfig::default(),
        sandbox,
        preflight_wait: exec::preflight::DEFAULT_FIX_WAIT,
    }
}

fn runbook_dir(plan: &Plan) -> PathBuf {
    Path::new(&plan.runbook.path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn write_report(path: &Path, report: &exec::report::json::Report) -> Result<(), Error> {
    std::fs::File::create(path)
        .and_then(|file| exec::report::json::write_to(report, file))
        .map_err(|source| Error::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        action: "write",
        path: path.to_owned(),
        source,
    })
}

fn open_journal(run_dir: &RunDir, seq: u64) -> Result<Journal, Error> {
    Journal::open(run_dir, seq).map_err(|source| Error::Io {
        action: "write",
        path: run_dir.journal(),
        source,
    })
}

fn resume(args: &ResumeArgs) -> Result<i32, Error> {
    if args.target.sandbox {
        return Err(Error::usage(
            "`resume` cannot start a sandbox: a new one would know none of the run's invocations",
            Some("point it at the sandbox the run used with `--endpoint URL`".to_owned()),
        ));
    }
    let base = working_dir()?;
    let run_dir = RunDir::find(&base, &args.run).ok_or_else(|| {
        Error::usage(
            format!(
                "no run `{}`: neither `{}` nor `{}` holds a journal",
                args.run,
                base.join(exec::journal::RUNS_DIR).join(&args.run).display(),
                args.run
            ),
            Some("run ids are the directory names under `.ecs-runbook/runs/`".to_owned()),
        )
    })?;
    check_report_paths(
        &args.reports,
        &[&run_dir.journal(), &run_dir.plan(), &run_dir.report()],
    )?;
    let replay = Replay::load(&run_dir.journal()).map_err(|e| Error::PlanFile {
        message: e.to_string(),
        help: None,
    })?;
    if replay.started.sandbox {
        return Err(Error::usage(
            format!(
                "run `{}` ran in a sandbox inside its own process, which ended with it; there is nothing to take up",
                replay.started.run_id
            ),
            Some(
                "resume needs the API the run used: run against `ecs-runbook sandbox` with `--endpoint` to be able to resume"
                    .to_owned(),
            ),
        ));
    }
    let plan = parse_plan(&run_dir.plan())?;
    let mut settings = replay.started.settings.clone();
    settings.start_stopped |= args.preflight.start_stopped;
    settings.install_agent |= args.preflight.install_agent;
    let target_args = TargetArgs {
        sandbox: false,
        fleet: None,
        endpoint: Some(
            args.target
                .endpoint
                .clone()
                .or_else(|| std::env::var(ENV_ENDPOINT).ok().filter(|e| !e.is_empty()))
                .unwrap_or_else(|| replay.started.endpoint.clone()),
        ),
        region: Some(
            args.target
                .region
                .clone()
                .unwrap_or_else(|| replay.started.region.clone()),
        ),
        profile: args.target.profile.clone(),
        signature: args.target.signature,
    };
    let rt = runtime();
    rt.block_on(async {
        let target = Target::connect(&target_args, None).await?;
        let inventory = exec::inventory::fetch_plan(&target.client, &plan).await?;
        if !args.yes {
            confirm(&plan, &target)?;
        }
        let secrets = resolve_secrets(&plan, &runbook_dir(&plan))?;
        let journal = open_journal(&run_dir, replay.lines)?;
        let config = run_config(replay.started.run_id.clone(), settings, false);
        let code = execute(Execution {
            target: &target,
            plan: &plan,
            inventory: &inventory,
            secrets: &secrets,
            config: &config,
            run_dir: &run_dir,
            journal: Some(journal),
            resume: Some(Resume {
                replay: &replay,
                retry_failed: args.retry_failed,
            }),
            check_drift: true,
            reports: &args.reports,
            format: args.format,
        })
        .await;
        target.shutdown().await;
        code
    })
}

/// Writes `report.json` into the run directory and the report files asked for. Every file is
/// attempted even when one fails (the first failure is returned beside the report), so one bad
/// path loses no other record. Returns the JSON report for `--format json`, and otherwise
/// frees it at once (it holds every output).
fn write_reports(
    e: &Execution<'_>,
    summary: &RunSummary,
    exit_code: i32,
) -> (Option<exec::report::json::Report>, Option<Error>) {
    let context = ReportContext {
        plan: e.plan,
        endpoint: e.target.client.endpoint(),
        region: e.target.client.region().as_str(),
        sandbox: e.target.sandbox.is_some(),
        exit_code,
        run_dir: Some(e.run_dir.path().display().to_string()),
    };
    let mut first_error = None;
    let mut keep = |result: Result<(), Error>| {
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    };
    let report = exec::report::json::report(summary, &context);
    keep(write_report(&e.run_dir.report(), &report));
    if let Some(path) = &e.reports.report {
        keep(write_report(path, &report));
    }
    let report = (e.format == OutputFormat::Json).then_some(report);
    if let Some(path) = &e.reports.junit {
        keep(write_file(
            path,
            &exec::report::junit::render(&e.plan.runbook.name, summary),
        ));
    }
    if let Some(path) = &e.reports.summary {
        keep(write_file(
            path,
            &exec::report::markdown::render(e.plan, summary),
        ));
    }
    (report, first_error)
}

/// Whether `a` and `b` name one existing file (through `./`, `..` or links).
fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::canonicalize(a)
        .ok()
        .zip(std::fs::canonicalize(b).ok())
        .is_some_and(|(a, b)| a == b)
}

/// Refuses, before anything runs, report paths that cannot be written: a folder, or a file
/// in a folder that does not exist.
fn check_report_paths(reports: &ReportArgs, inputs: &[&Path]) -> Result<(), Error> {
    let paths = [&reports.report, &reports.junit, &reports.summary];
    let mut seen = Vec::new();
    for path in paths.into_iter().flatten() {
        if let Ok(real) = std::fs::canonicalize(path) {
            if let Some(input) = inputs.iter().find(|i| same_file(i, path)) {
                return Err(Error::usage(
                    format!(
                        "the report `{}` would overwrite `{}`, an input of this run",
                        path.display(),
                        input.display()
                    ),
                    Some("write reports to their own files; nothing was run".to_owned()),
                ));
            }
            if seen.contains(&real) {
                return Err(Error::usage(
                    format!("`{}` is given for two reports", path.display()),
                    Some("give each report its own file; nothing was run".to_owned()),
                ));
            }
            seen.push(real);
        }
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let problem = if path.is_dir() {
            Some("it is a folder")
        } else if !parent.is_dir() {
            Some("its folder does not exist")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::usage(
                format!("cannot write the report `{}`: {problem}", path.display()),
                Some("give a file path in an existing folder; nothing was run".to_owned()),
            ));
        }
    }
    Ok(())
}

/// Everything `run` and `resume` share once the plan and its targets are known.
struct Execution<'a> {
    target: &'a Target,
    plan: &'a Plan,
    inventory: &'a Inventory,
    secrets: &'a SecretValues,
    config: &'a RunConfig,
    run_dir: &'a RunDir,
    journal: Option<Journal>,
    resume: Option<Resume<'a>>,
    check_drift: bool,
    reports: &'a ReportArgs,
    /// How the results are printed on stdout: the human summary, or the JSON report.
    format: OutputFormat,
}

/// Turns Ctrl-C and SIGTERM into cancel levels until the run ends.
async fn cancel_on_signals(cancel_tx: watch::Sender<Cancel>) {
    // SIGTERM (a CI job cancelled, a service stopped) is the second Ctrl-C at once: there
    // is rarely time to wait for running invocations.
    let mut term = terminate_signal();
    let mut level = Cancel::None;
    loop {
        level = tokio::select! {
            interrupted = tokio::signal::ctrl_c() => {
                if interrupted.is_err() {
                    break;
                }
                match level {
                    Cancel::None => Cancel::StopLaunching,
                    _ => Cancel::StopRunning,
                }
            }
            () = next_terminate(&mut term) => Cancel::StopRunning,
        };
        if cancel_tx.send(level).is_err() {
            break;
        }
    }
}

/// Runs the plan with Ctrl-C handling and the reporters, writes the report files and the
/// summary, and turns the outcome into the exit code.
async fn execute(mut e: Execution<'_>) -> Result<i32, Error> {
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(Cancel::None);
    let signals = tokio::spawn(cancel_on_signals(cancel_tx));
    let bars = color_enabled();
    let (live_tx, mut live_rx) = mpsc::unbounded_channel();
    let reporter = tokio::spawn(async move {
        if bars {
            drop(events_rx);
            let mut bars = exec::report::progress::Bars::stderr();
            while let Some(event) = live_rx.recv().await {
                bars.on(&event);
            }
            bars.finish();
        } else {
            drop(live_rx);
            while let Some(event) = events_rx.recv().await {
                let mut err = std::io::stderr().lock();
                let _ = exec::report::human::progress(&mut err, &event);
            }
        }
    });
    let input = RunInput {
        client: &e.target.client,
        plan: e.plan,
        inventory: e.inventory,
        secrets: e.secrets,
        config: e.config,
        resume: e.resume,
        check_drift: e.check_drift,
    };
    let outputs = RunOutputs {
        events: events_tx,
        live: bars.then_some(live_tx),
        journal: e.journal.take(),
    };
    let summary = exec::run(&input, outputs, cancel_rx).await;
    let _ = reporter.await;
    signals.abort();
    let result = if let Some(error) = &summary.api_error {
        Err(Error::from(error.clone()))
    } else if summary.preflight_failed() {
        Err(Error::Preflight(format!(
            "preflight failed: {} cannot run commands",
            crate::count::Count(summary.preflight.issues.len(), "target")
        )))
    } else if summary.interrupted {
        Err(Error::Interrupted)
    } else if summary.success {
        Ok(EXIT_OK)
    } else {
        Err(Error::StepFailed("a step failed its gate".to_owned()))
    };
    let exit_code = match &result {
        Ok(code) => *code,
        Err(error) => error.exit_code(),
    };
    let (report, write_error) = write_reports(&e, &summary, exit_code);
    match e.format {
        OutputFormat::Text => {
            let mut out = std::io::stdout().lock();
            let _ = exec::report::human::summary(&mut out, &summary);
            let _ = out.flush();
        }
        OutputFormat::Json => {
            if let Some(report) = &report {
                write_output(None, &exec::report::json::render(report))?;
            }
        }
    }
    if !summary.success && !summary.preflight_failed() && e.target.sandbox.is_none() {
        eprintln!(
            "run directory: {}; continue with `ecs-runbook resume {}`{}",
            e.run_dir.path().display(),
            summary.run_id,
            if summary.interrupted {
                ""
            } else {
                " (add `--retry-failed` to run failed steps again)"
            }
        );
    }
    // A report that could not be written (a full disk: the paths were checked before the
    // run) is an error of its own, but never hides the run's outcome.
    match write_error {
        None => result,
        Some(error) if result.is_ok() => Err(error),
        Some(error) => {
            eprint!("{}", render_diagnostic(&error));
            result
        }
    }
}

/// SIGTERM, where the platform has it.
#[cfg(unix)]
fn terminate_signal() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
}

#[cfg(not(unix))]
fn terminate_signal() -> Option<()> {
    None
}

/// Waits for the next SIGTERM; never, without one.
#[cfg(unix)]
async fn next_terminate(term: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = term
        && signal.recv().await.is_some()
    {
        return;
    }
    std::future::pending::<()>().await;
}

#[cfg(not(unix))]
async fn next_terminate(_: &mut Option<()>) {
    std::future::pending::<()>().await;
}

fn serve_sandbox(args: &SandboxArgs) -> Result<i32, Error> {
    let mut config = sandbox::SandboxConfig {
        listen: args.listen,
        allow_non_loopback: args.allow_non_loopback,
        access_key_id: args.access_key_id.clone(),
        access_key_secret: args.access_key_secret.clone(),
        root: args.root.clone(),
        ..sandbox::SandboxConfig::default()
    };
    if let Some(path) = &args.fleet {
        config.fleet = sandbox::Fleet::load(path).map_err(fleet_error)?;
    }
    if let Some(seed) = args.seed {
        config.fleet.faults.seed = seed;
    }
    let rt = runtime();
    rt.block_on(async {
        let running = sandbox::start(config).await.map_err(start_error)?;
        write_output(None, &format!("sandbox listening on {}\n", running.url()))?;
        let mut term = terminate_signal();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = next_terminate(&mut term) => {}
        }
        running.shutdown().await;
        Ok(EXIT_OK)
    })
}

#[cfg(test)]
mod tests {
    use super::{check_endpoint, is_loopback};

    #[test]
    fn loopback_endpoints_are_local() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "https://ecs.cn-hangzhou.aliyuncs.com",
            "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
            "http://10.0.0.1:80",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_host_only() {
        for (text, expected) in [
            (
                "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
                Ok("https://ecs-vpc.cn-hangzhou.aliyuncs.com"),
            ),
            ("http://127.0.0.1:8080/", Ok("http://127.0.0.1:8080")),
            ("ecs-vpc.cn-hangzhou.aliyuncs.com", Err("has no scheme")),
            (
                "ftp://ecs.aliyuncs.com",
                Err("has the scheme `ftp`, not `https` or `http`"),
            ),
            (
                "https://",
                Err("is not a scheme and a host (with an optional port) alone"),
            ),
            (
                "https://ecs.aliyuncs.com/v1",
                Err("is not a scheme and a host (with an optional port) alone"),
            ),
        ] {
            assert_eq!(
                check_endpoint(text).map_err(|(problem, _)| problem),
                expected.map_err(str::to_owned),
                "{text}"
            );
        }
    }
}
