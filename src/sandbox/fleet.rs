//! The fleet the sandbox pretends to be: instances, their agents, users, directories and how
//! scripts "run" on them, plus rules that generate thousands of instances from one entry.
//!
//! `Fleet` is plain data with serde derives (`deny_unknown_fields` everywhere) so a fleet file
//! is checked as strictly as a runbook. Runtime state (status changes, counters) lives in
//! `state`; faults are declared in `fault`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::cloud::status::InstanceStatus;
use crate::sandbox::fault::Faults;

/// The region of instances that do not name one.
pub const DEFAULT_REGION: &str = "cn-hangzhou";
/// The agent version reported for installed agents that do not name one.
pub const DEFAULT_AGENT_VERSION: &str = "2.2.3.512";
/// Ids of the default fleet: `i-` plus 20 lower-case alphanumerics, like real ids.
pub const DEFAULT_INSTANCE_IDS: [&str; 3] = [
    "i-sandbox0000000000001",
    "i-sandbox0000000000002",
    "i-sandbox0000000000003",
];

/// A fleet: explicit instances, generated ones and fault injection.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// Instances listed one by one.
    #[serde(default)]
    pub instances: Vec<InstanceSpec>,
    /// Rules that add many similar instances.
    #[serde(default)]
    pub generate: Vec<GenerateRule>,
    /// Injected faults.
    #[serde(default)]
    pub faults: Faults,
    /// Service limits that differ from the documented ones.
    #[serde(default)]
    pub limits: FleetLimits,
}

/// Service limits a fleet file can lower, to reach paths a client must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetLimits {
    /// Every listing returns at most this many items per page, whatever `MaxResults` asks
    /// for, so a client that does not follow `NextToken` misses items (case B03).
    pub max_page_size: Option<usize>,
}

/// The operating system of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Runs `RunShellScript`.
    #[default]
    Linux,
    /// Runs `RunPowerShellScript` (through `pwsh` when installed) and `RunBatScript`
    /// (simulated only).
    Windows,
}

impl Os {
    /// `OSType` as DescribeInstances spells it.
    pub fn lower(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
        }
    }

    /// `OSType` as DescribeCloudAssistantStatus spells it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Linux => "Linux",
            Self::Windows => "Windows",
        }
    }
}

/// The Cloud Assistant agent of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSpec {
    /// Installed: without it InvokeCommand rejects the instance (`InvalidInstance.NotMatch`).
    pub installed: bool,
    /// Running: when installed but not running, tasks are accepted and end `Aborted` /
    /// `ClientNotRunning`.
    pub running: bool,
    /// Reported version.
    pub version: String,
}

impl Default for AgentSpec {
    fn default() -> Self {
        Self {
            installed: true,
            running: true,
            version: DEFAULT_AGENT_VERSION.to_owned(),
        }
    }
}

/// How scripts run on an instance.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Execution {
    /// For real: a process on this machine, as the current user.
    #[default]
    Real,
    /// Not executed; the result is given.
    Simulated(Simulation),
}

/// A simulated result.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Simulation {
    /// Exit code of the pretend run.
    pub exit_code: i64,
    /// Output text.
    pub output: String,
    /// Output bytes as Base64, for output that is not UTF-8 (e.g. GBK); wins over `output`.
    pub output_base64: Option<String>,
    /// How long the pretend run takes.
    pub duration: Delay,
    /// Bytes Cloud Assistant pretends to have cut off the output (`Dropped`, case B04 (c)).
    pub dropped: u64,
}

impl Simulation {
    /// The output bytes.
    pub fn output_bytes(&self) -> Vec<u8> {
        match &self.output_base64 {
            Some(b64) => STANDARD.decode(b64.trim()).unwrap_or_default(),
            None => self.output.clone().into_bytes(),
        }
    }
}

/// One instance of the fleet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    /// `i-` id.
    pub id: String,
    /// Instance name; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Operating system.
    #[serde(default)]
    pub os: Os,
    /// Initial status: `Running`, `Stopped`, `Starting`, `Stopping` or `Pending`.
    #[serde(default = "default_status")]
    pub status: InstanceStatus,
    /// The agent.
    #[serde(default)]
    pub agent: AgentSpec,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// OS users a `Username` may name.
    #[serde(default = "default_users")]
    pub users: Vec<String>,
    /// Directories created in the instance's file system, beside the defaults.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// How scripts run.
    #[serde(default)]
    pub execution: Execution,
}

impl InstanceSpec {
    /// A running Linux instance in the default region with the default users.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            region: default_region(),
            os: Os::Linux,
            status: InstanceStatus::Running,
            agent: AgentSpec::default(),
            tags: BTreeMap::new(),
            users: default_users(),
            dirs: Vec::new(),
            execution: Execution::Real,
        }
    }

    /// The name, or the id when none is set.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Adds `count` instances that differ only in id and name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRule {
    /// How many.
    pub count: usize,
    /// Id prefix; the number is zero-padded so ids have the real length (22 characters) when
    /// the prefix allows, e.g. `i-bench` gives `i-bench000000000000001`.
    pub prefix: String,
    /// Name prefix; names are `<name_prefix><n>` with `n` zero-padded to 5 digits.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// Region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Operating system.
    #[serde(default)]
    pub os: Os,
    /// Initial status.
    #[serde(default = "default_status")]
    pub status: InstanceStatus,
    /// The agent.
    #[serde(default)]
    pub agent: AgentSpec,
    /// Tags of every generated instance.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Users.
    #[serde(default = "default_users")]
    pub users: Vec<String>,
    /// Extra directories.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// How scripts run.
    #[serde(default)]
    pub execution: Execution,
    /// Simulated results that replace `execution` on every `every`-th instance; later entries
    /// win where they overlap.
    #[serde(default)]
    pub overrides: Vec<ResultOverride>,
}

/// A simulated result for every `every`-th generated instance, starting at the `first`-th
/// (1-based; `every` when absent): `{every: 100, simulated: {exit_code: 1}}` fails 1 %.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultOverride {
    /// The step between instances it applies to (at least 1).
    pub every: usize,
    /// The first instance it applies to, 1-based.
    #[serde(default)]
    pub first: Option<usize>,
    /// The result.
    pub simulated: Simulation,
}

impl ResultOverride {
    /// Whether it applies to the `n`-th (1-based) generated instance.
    fn applies(&self, n: usize) -> bool {
        let first = self.first.unwrap_or(self.every);
        self.every > 0 && n >= first && (n - first).is_multiple_of(self.every)
    }
}

impl GenerateRule {
    /// The execution of the `n`-th (1-based) generated instance.
    fn execution_of(&self, n: usize) -> Execution {
        self.overrides
            .iter()
            .rev()
            .find(|o| o.applies(n))
            .map_or_else(
                || self.execution.clone(),
                |o| Execution::Simulated(o.simulated.clone()),
            )
    }

    fn expand(&self) -> impl Iterator<Item = InstanceSpec> + '_ {
        let width = 22usize.saturating_sub(self.prefix.len()).max(1);
        let name_prefix = self
            .name_prefix
            .clone()
            .unwrap_or_else(|| format!("{}-", self.prefix.trim_start_matches("i-")));
        (1..=self.count).map(move |n| InstanceSpec {
            id: format!("{}{n:0width$}", self.prefix),
            name: Some(format!("{name_prefix}{n:05}")),
            region: self.region.clone(),
            os: self.os,
            status: self.status.clone(),
            agent: self.agent.clone(),
            tags: self.tags.clone(),
            users: self.users.clone(),
            dirs: self.dirs.clone(),
            execution: self.execution_of(n),
        })
    }
}

/// A fleet file that does not load, or a fleet that does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file could not be read.
    #[error("cannot read fleet file `{path}`: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not parse or does not fit the fleet format; every problem with its line
    /// and column (render it with miette).
    #[error("{0}")]
    Yaml(crate::runbook::Diagnostics),
    /// Two instances share an id.
    #[error("instance id `{0}` appears more than once in the fleet")]
    DuplicateId(String),
    /// An id is empty or has characters ids never have.
    #[error("instance id `{0}` is not valid (expected `i-` followed by letters and digits)")]
    BadId(String),
    /// A status the sandbox cannot model.
    #[error(
        "instance `{id}` has unknown status `{status}` (expected Running, Stopped, Starting, Stopping or Pending)"
    )]
    BadStatus {
        /// The instance.
        id: String,
        /// What was given.
        status: String,
    },
    /// `output_base64` does not decode.
    #[error("instance `{0}`: `output_base64` is not valid Base64")]
    BadOutput(String),
    /// A directory that is not absolute.
    #[error("instance `{id}`: directory `{dir}` must be an absolute path")]
    RelativeDir {
        /// The instance.
        id: String,
        /// The directory.
        dir: String,
    },
    /// A fault names an instance that is not in the fleet.
    #[error("fault names instance `{0}`, which is not in the fleet")]
    UnknownFaultInstance(String),
    /// An override that would apply to no instance.
    #[error("generate rule `{0}`: `every` in `overrides` must be at least 1")]
    BadOverride(String),
    /// A probability outside 0..=1.
    #[error(
        "fault for action `{0}`: probabilities must be between 0 and 1 and add up to at most 1"
    )]
    BadProbability(String),
    /// JSON text that does not parse.
    #[error("{0}")]
    Parse(String),
}

impl Fleet {
    /// The default fleet: three running Linux instances in cn-hangzhou, `web-01` and `web-02`
    /// (`role: web`) and `db-01` (`role: db`), all `env: prod`.
    pub fn default_fleet() -> Self {
        let make = |id: &str, name: &str, role: &str| {
            let mut spec = InstanceSpec::new(id);
            spec.name = Some(name.to_owned());
            spec.tags = [("role", role), ("env", "prod")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            spec
        };
        Self {
            instances: vec![
                make(DEFAULT_INSTANCE_IDS[0], "web-01", "web"),
                make(DEFAULT_INSTANCE_IDS[1], "web-02", "web"),
                make(DEFAULT_INSTANCE_IDS[2], "db-01", "db"),
            ],
            generate: Vec::new(),
            faults: Faults::default(),
            limits: FleetLimits::default(),
        }
    }

    /// Reads and checks a YAML fleet file.
    pub fn load(path: &std::path::Path) -> Result<Self, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(path, &text)
    }

    /// Parses and checks a YAML fleet file's text; `path` names it in diagnostics.
    pub fn from_yaml(path: &std::path::Path, text: &str) -> Result<Self, FleetError> {
        let fleet: Self = crate::runbook::yaml::from_str(path, text).map_err(FleetError::Yaml)?;
        fleet.validate()?;
        Ok(fleet)
    }

    /// Parses a fleet from JSON text (the same shape as the YAML fleet file).
    pub fn from_json(text: &str) -> Result<Self, FleetError> {
        let fleet: Self =
            serde_json::from_str(text).map_err(|e| FleetError::Parse(e.to_string()))?;
        fleet.validate()?;
        Ok(fleet)
    }

    /// Every instance: the listed ones, then the generated ones in rule order.
    pub fn expanded(&self) -> Vec<InstanceSpec> {
        let mut all = self.instances.clone();
        for rule in &self.generate {
            all.extend(rule.expand());
        }
        all
    }

    /// Checks ids, statuses, outputs, directories and faults.
    pub fn validate(&self) -> Result<(), FleetError> {
        if let Some(rule) = self
            .generate
            .iter()
            .find(|r| r.overrides.iter().any(|o| o.every == 0))
        {
            return Err(FleetError::BadOverride(rule.prefix.clone()));
        }
        let all = self.expanded();
        let mut seen = HashSet::with_capacity(all.len());
        for spec in &all {
            let id_ok = spec.id.len() > 2
                && spec.id.starts_with("i-")
                && spec.id[2..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !id_ok {
                return Err(FleetError::BadId(spec.id.clone()));
            }
            if !seen.insert(spec.id.as_str()) {
                return Err(FleetError::DuplicateId(spec.id.clone()));
            }
            if matches!(spec.status, InstanceStatus::Unknown(_)) {
                return Err(FleetError::BadStatus {
                    id: spec.id.clone(),
                    status: spec.status.to_string(),
                });
            }
            if let Execution::Simulated(sim) = &spec.execution
                && let Some(b64) = &sim.output_base64
                && STANDARD.decode(b64.trim()).is_err()
            {
                return Err(FleetError::BadOutput(spec.id.clone()));
            }
            if let Some(dir) = spec.dirs.iter().find(|d| !d.starts_with('/')) {
                return Err(FleetError::RelativeDir {
                    id: spec.id.clone(),
                    dir: dir.clone(),
                });
            }
        }
        self.faults.validate(|id| seen.contains(id))
    }
}

fn default_region() -> String {
    DEFAULT_REGION.to_owned()
}

fn default_status() -> InstanceStatus {
    InstanceStatus::Running
}

fn default_users() -> Vec<String> {
    vec!["root".to_owned(), "admin".to_owned()]
}

/// A duration in a fleet file: an integer or decimal number of seconds, or text such as
/// `150ms`, `2s`, `1.5s`, `10m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delay(pub Duration);

impl Delay {
    /// Parses the text form.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number.parse().ok()?;
        let scale = match unit.trim() {
            "" | "s" => 1.0,
            "ms" => 0.001,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        Duration::try_from_secs_f64(value * scale).ok().map(Self)
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl Visitor<'_> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds, or a duration such as `150ms`, `2s`, `10m`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Delay, E> {
                Ok(Delay(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Delay, E> {
                u64::try_from(v)
                    .map(|v| Delay(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Delay, E> {
                Duration::try_from_secs_f64(v)
                    .map(Delay)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Delay, E> {
                Delay::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(DelayVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fleet_has_three_tagged_linux_instances() {
        let fleet = Fleet::default_fleet();
        fleet.validate().unwrap();
        let names: Vec<&str> = fleet
            .instances
            .iter()
            .map(InstanceSpec::display_name)
            .collect();
        assert_eq!(names, ["web-01", "web-02", "db-01"]);
        for spec in &fleet.instances {
            assert_eq!(spec.id.len(), 22);
            assert_eq!(spec.region, "cn-hangzhou");
            assert_eq!(spec.tags["env"], "prod");
            assert_eq!(spec.status, InstanceStatus::Running);
        }
    }

    #[test]
    fn generate_rules_pad_ids_to_the_real_length() {
        let fleet = Fleet::from_json(
            r#"{"generate": [{"count": 12, "prefix": "i-bench", "tags": {"env": "bench"},
                "execution": {"simulated": {"exit_code": 0, "output": "ok\n", "duration": "150ms"}}}]}"#,
        )
        .unwrap();
        let all = fleet.expanded();
        assert_eq!(all.len(), 12);
        assert_eq!(all[0].id, "i-bench000000000000001");
        assert_eq!(all[11].id, "i-bench000000000000012");
        assert_eq!(all[11].display_name(), "bench-00012");
        assert_eq!(
            all[0].execution,
            Execution::Simulated(Simulation {
                exit_code: 0,
                output: "ok\n".into(),
                output_base64: None,
                duration: Delay(Duration::from_millis(150)),
                dropped: 0,
            })
        );
    }

    #[test]
    fn overrides_give_every_nth_generated_instance_its_own_result() {
        let fleet = Fleet::from_json(
            r#"{"generate": [{"count": 10, "prefix": "i-o",
                "execution": {"simulated": {"duration": "1s"}},
                "overrides": [
                    {"every": 3, "simulated": {"exit_code": 1, "output": "bad\n"}},
                    {"every": 5, "first": 1, "simulated": {"exit_code": 2, "duration": "2s"}}]}]}"#,
        )
        .unwrap();
        let codes: Vec<i64> = fleet
            .expanded()
            .iter()
            .map(|spec| match &spec.execution {
                Execution::Simulated(sim) => sim.exit_code,
                Execution::Real => -1,
            })
            .collect();
        // 3, 6 and 9 fail with 1; 1 and 6 with 2 (the later entry wins on 6).
        assert_eq!(codes, [2, 0, 1, 0, 0, 2, 0, 0, 1, 0]);
        let err = Fleet::from_json(
            r#"{"generate": [{"count": 1, "prefix": "i-o", "overrides": [{"every": 0, "simulated": {}}]}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn rejects_bad_fleets() {
        let cases = [
            (
                r#"{"instances": [{"id": "i-a"}, {"id": "i-a"}]}"#,
                "more than once",
            ),
            (r#"{"instances": [{"id": "web"}]}"#, "not valid"),
            (
                r#"{"instances": [{"id": "i-a", "status": "Exploded"}]}"#,
                "unknown status",
            ),
            (
                r#"{"instances": [{"id": "i-a", "colour": "red"}]}"#,
                "unknown field",
            ),
            (
                r#"{"instances": [{"id": "i-a", "dirs": ["srv"]}]}"#,
                "absolute",
            ),
            (
                r#"{"instances": [{"id": "i-a", "execution": {"simulated": {"output_base64": "%%"}}}]}"#,
                "Base64",
            ),
            (
                r#"{"faults": {"instances": [{"instances": ["i-zz"], "agent": "down"}]}}"#,
                "not in the fleet",
            ),
        ];
        for (input, expected) in cases {
            let err = Fleet::from_json(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    /// The example of `docs/sandbox.md`.
    const EXAMPLE: &str = r#"
instances:
  - id: i-bp1web0000000000001
    name: web-01
    tags: {role: web, env: prod, version: 1.10}
    dirs: [/srv/app]
  - id: i-bp1win0000000000001
    name: win-01
    os: windows
    users: [Administrator]
    execution:
      simulated:
        exit_code: 0
        output_base64: v6rKvLCy17AuLi4NCrCy17DN6rPJIGV4aXQ9MA0K
        duration: 2s
  - id: i-bp1old0000000000001
    status: Stopped
    agent: {installed: false}
generate:
  - count: 10000
    prefix: i-bench
    tags: {env: bench}
    execution:
      simulated: {exit_code: 0, output: "done\n", duration: 150ms}
faults:
  seed: 42
  actions:
    - action: DescribeInvocations
      throttle: 0.05
      latency: 20ms
    - action: InvokeCommand
      sequence: [drop_after]
  instances:
    - instances: [i-bp1web0000000000001]
      stop_after: 30s
"#;

    #[test]
    fn loads_the_documented_yaml_example() {
        let fleet = Fleet::from_yaml(std::path::Path::new("fleet.yaml"), EXAMPLE).unwrap();
        assert_eq!(fleet.instances.len(), 3);
        assert_eq!(fleet.instances[0].tags["version"], "1.10");
        assert_eq!(fleet.instances[1].os, Os::Windows);
        assert_eq!(fleet.instances[2].status, InstanceStatus::Stopped);
        assert!(!fleet.instances[2].agent.installed);
        assert_eq!(fleet.expanded().len(), 10_003);
        assert_eq!(fleet.faults.seed, 42);
        assert_eq!(
            fleet.faults.actions[0].latency,
            Delay(Duration::from_millis(20))
        );
        assert_eq!(
            fleet.faults.instances[0].stop_after,
            Some(Delay(Duration::from_secs(30)))
        );
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let cases = [
            ("instances:\n  - id: i-a\n    colour: red\n", "colour"),
            (
                "instances:\n  - id: i-a\n    execution: sometimes\n",
                "sometimes",
            ),
            ("instances:\n  - id: i-a\n  - id: i-a\n", "more than once"),
        ];
        for (text, expected) in cases {
            let err = Fleet::from_yaml(std::path::Path::new("f.yaml"), text).unwrap_err();
            let shown = match &err {
                FleetError::Yaml(d) => format!("{d} {:?}", d.records()),
                other => other.to_string(),
            };
            assert!(shown.contains(expected), "{text}: {shown}");
        }
    }

    #[test]
    fn parses_delays() {
        let cases = [
            ("150ms", Some(Duration::from_millis(150))),
            ("2s", Some(Duration::from_secs(2))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("10m", Some(Duration::from_mins(10))),
            ("1h", Some(Duration::from_hours(1))),
            ("3", Some(Duration::from_secs(3))),
            ("soon", None),
        ];
        for (input, expected) in cases {
            assert_eq!(Delay::parse(input).map(|d| d.0), expected, "{input}");
        }
    }
}
