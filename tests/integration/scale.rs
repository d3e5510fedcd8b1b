//! Fleet scale: one step on 250 simulated instances, counted by the sandbox. Calls stay within
//! 1.10 × the minimum (1 CreateCommand + ⌈N/100⌉ InvokeCommand + ⌈N/50⌉ result pages) plus
//! polls, every listing pages at its maximum size, and results keep each instance's own
//! output and exit code. Nothing here is timed.

use crate::harness::{Dir, Sandbox, json_file, run};

const N: usize = 250;

#[test]
fn two_hundred_fifty_instances_need_the_minimum_of_calls_plus_polls() {
    let dir = Dir::new();
    // Instances 125 and 250 fail with their own output (a generate rule's override).
    let sandbox = Sandbox::with_fleet(
        &dir,
        &format!(
            "generate:
  - count: {N}
    prefix: i-scale
    tags: {{env: scale}}
    execution:
      simulated: {{exit_code: 0, output: \"patched\\n\", duration: 200ms}}
    overrides:
      - {{every: 125, simulated: {{exit_code: 3, output: \"disk full\\n\", duration: 100ms}}}}
"
        ),
    );
    let runbook = dir.write(
        "patch.yaml",
        "version: 1
name: patch-scale
region: cn-hangzhou
targets: { tags: { env: scale } }
steps:
  - name: patch
    script: yum -y update nginx
",
    );
    let report = dir.path().join("report.json");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    out.code(1);
    let stats = sandbox.stats();
    let calls = |action: &str| stats["calls"][action].as_u64().unwrap_or(0);

    // Three tasks of 100, 100 and 50 instances.
    assert_eq!(calls("CreateCommand"), 1, "{stats}");
    assert_eq!(calls("InvokeCommand"), 3, "{stats}");
    // Results: the two full tasks in one DescribeInvocations each (IncludeOutput=true), the
    // half one in one page of DescribeInvocationResults (50 a page, the maximum).
    let output_reads = stats["output_reads"].as_u64().unwrap();
    assert_eq!(output_reads, 2, "{stats}");
    assert_eq!(calls("DescribeInvocationResults"), 1, "{stats}");
    let core = calls("CreateCommand")
        + calls("InvokeCommand")
        + output_reads
        + calls("DescribeInvocationResults");
    let minimum = 1 + N.div_ceil(100) + N.div_ceil(50);
    assert!(
        core * 100 <= minimum as u64 * 110,
        "{core} calls against a minimum of {minimum}: {stats}"
    );
    // Polls come on top: by command, one page a round covers all three tasks.
    let polls = calls("DescribeInvocations") - output_reads;
    assert!(polls >= 1, "{stats}");
    // Discovery and preflight page at 100 instances a call.
    assert_eq!(calls("DescribeInstances"), 3, "{stats}");
    assert_eq!(calls("DescribeCloudAssistantStatus"), 3, "{stats}");
    assert_eq!(calls("DeleteCommand"), 1, "{stats}");

    let report = json_file(&report);
    let instances = report["steps"][0]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), N);
    let failed: Vec<(&str, i64, &str)> = instances
        .iter()
        .filter(|i| i["passed"] == false)
        .map(|i| {
            (
                i["instance_id"].as_str().unwrap(),
                i["exit_code"].as_i64().unwrap(),
                i["output"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("i-scale000000000000125", 3, "disk full\n"),
            ("i-scale000000000000250", 3, "disk full\n"),
        ]
    );
    assert!(
        instances
            .iter()
            .filter(|i| i["passed"] == true)
            .all(|i| i["output"] == "patched\n" && i["exit_code"] == 0)
    );
    assert!(
        out.stdout.contains("248 succeeded, 2 failed"),
        "{}",
        out.stdout
    );
}
