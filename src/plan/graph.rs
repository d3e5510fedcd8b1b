//! The step DAG: deterministic order (ties broken by file order), stages and ancestors.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::runbook::model::Step;

/// Indices of `steps` in dependency order; among ready steps, file order wins. Steps whose
/// dependencies cannot be satisfied (the loader rejects cycles) are left out.
pub fn order(steps: &[Step]) -> Vec<usize> {
    let index_of = |name: &str| steps.iter().position(|s| s.name.as_str() == name);
    let mut indegree: Vec<usize> = steps.iter().map(|s| s.depends_on.len()).collect();
    let mut dependents = vec![Vec::new(); steps.len()];
    for (i, step) in steps.iter().enumerate() {
        for dep in &step.depends_on {
            match index_of(dep.value.as_str()) {
                Some(d) => dependents[d].push(i),
                None => indegree[i] -= 1,
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut out = Vec::with_capacity(steps.len());
    while let Some(Reverse(i)) = ready.pop() {
        out.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    out
}

/// The stage of each step (by index): 0 without dependencies, else one more than the latest
/// stage among its dependencies.
pub fn stages(steps: &[Step], order: &[usize]) -> Vec<usize> {
    let mut stage = vec![0; steps.len()];
    for &i in order {
        stage[i] = steps[i]
            .depends_on
            .iter()
            .filter_map(|d| steps.iter().position(|s| s.name == d.value))
            .map(|d| stage[d] + 1)
            .max()
            .unwrap_or(0);
    }
    stage
}

/// Every step `index` depends on, directly or not, in file order.
pub fn ancestors(steps: &[Step], index: usize) -> Vec<usize> {
    let mut seen = vec![false; steps.len()];
    let mut stack = vec![index];
    while let Some(i) = stack.pop() {
        for dep in &steps[i].depends_on {
            if let Some(d) = steps.iter().position(|s| s.name == dep.value)
                && !seen[d]
            {
                seen[d] = true;
                stack.push(d);
            }
        }
    }
    (0..steps.len())
        .filter(|&i| seen[i] && i != index)
        .collect()
}
