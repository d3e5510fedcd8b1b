//! The step DAG: unknown dependencies, cycles (with their whole path), a deterministic order
//! and stages.
//!
//! Order is Kahn's algorithm with a min-heap of file indices, so among ready steps the one
//! written first runs first, in every process (case B16; petgraph's `toposort` gives another,
//! equally valid order). Cycles are found with petgraph's `tarjan_scc` and reported as a path
//! in dependency direction from the component's first step in file order, every edge labelled.
//! The loader calls `check` so `validate` reports these before any API call; `plan` calls
//! [`order`] and [`stages`] on the validated steps.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use miette::SourceSpan;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::runbook::diagnostic::{Diagnostic, Kind};
use crate::runbook::model::Step;
use crate::suggest;

/// Edges shown at each end of a long cycle; the middle is elided, so a 10,000-step cycle is
/// one readable diagnostic.
pub const CYCLE_SHOWN: usize = 10;

/// Name comparisons spent on did-you-mean suggestions for unknown dependencies.
const SUGGESTION_BUDGET: usize = 100_000;

/// The most step names a help line lists.
const NAMES_LISTED: usize = 10;

/// One step as the graph sees it: its name and its `depends_on` entries with their spans.
#[derive(Debug, Clone)]
pub(crate) struct GraphNode<'a> {
    /// The step's name.
    pub(crate) name: &'a str,
    /// Each `depends_on` entry and where it is written.
    pub(crate) deps: Vec<(&'a str, SourceSpan)>,
}

/// The indices of `steps` in dependency order, ties broken by file order; or the unknown
/// dependencies and cycles that prevent one.
pub fn order(steps: &[Step]) -> Result<Vec<usize>, Vec<Diagnostic>> {
    let nodes: Vec<GraphNode<'_>> = steps
        .iter()
        .map(|s| GraphNode {
            name: s.name.as_str(),
            deps: s
                .depends_on
                .iter()
                .map(|d| (d.value.as_str(), d.span))
                .collect(),
        })
        .collect();
    check(&nodes)
}

/// The stage of each step (by index): 0 without dependencies, else one more than the latest
/// stage among its dependencies; `order` is a dependency order of `steps`. Steps of one stage
/// can run in parallel: B16's `compile, test, lint, package` is `[0, 1, 1, 2]`.
pub fn stages(steps: &[Step], order: &[usize]) -> Vec<usize> {
    let index = index_of(steps.iter().map(|s| s.name.as_str()));
    let mut stage = vec![0; steps.len()];
    for &i in order {
        stage[i] = steps[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d.value.as_str()))
            .map(|&d| stage[d] + 1)
            .max()
            .unwrap_or(0);
    }
    stage
}

/// Every step that step `index` depends on, directly or not, in file order.
pub fn ancestors(steps: &[Step], index: usize) -> Vec<usize> {
    Dependencies::new(steps).ancestors(index)
}

/// The dependencies of `steps` by index, built once for many reachability questions (what a
/// step's templates may read), so a plan costs time linear in its steps and edges.
#[derive(Debug, Clone)]
pub struct Dependencies<'a> {
    index: HashMap<&'a str, usize>,
    deps: Vec<Vec<usize>>,
}

impl<'a> Dependencies<'a> {
    /// Indexes `steps`; dependencies on unknown names are left out.
    pub fn new(steps: &'a [Step]) -> Self {
        let index = index_of(steps.iter().map(|s| s.name.as_str()));
        let deps = steps
            .iter()
            .map(|s| {
                s.depends_on
                    .iter()
                    .filter_map(|d| index.get(d.value.as_str()).copied())
                    .collect()
            })
            .collect();
        Self { index, deps }
    }

    /// The index of the step named `name` (the first, should there be two).
    pub fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Whether step `from` depends on step `to`, directly or not.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        self.walk(from, |i| i == to)
    }

    /// Every step that step `index` depends on, directly or not, in file order.
    pub fn ancestors(&self, index: usize) -> Vec<usize> {
        let mut seen = vec![false; self.deps.len()];
        self.walk(index, |i| {
            seen[i] = true;
            false
        });
        (0..self.deps.len())
            .filter(|&i| seen[i] && i != index)
            .collect()
    }

    /// Visits what `start` depends on, depth first, each step once, until `stop` says so.
    fn walk(&self, start: usize, mut stop: impl FnMut(usize) -> bool) -> bool {
        let mut seen = vec![false; self.deps.len()];
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            for &d in &self.deps[i] {
                if !seen[d] {
                    seen[d] = true;
                    if stop(d) {
                        return true;
                    }
                    stack.push(d);
                }
            }
        }
        false
    }
}

/// The first index of each name.
fn index_of<'a>(names: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut index = HashMap::new();
    for (i, name) in names.enumerate() {
        index.entry(name).or_insert(i);
    }
    index
}

/// Checks references and cycles, then orders the nodes. Problems come in file order: unknown
/// dependencies where they are written, then one diagnostic per cycle.
pub(crate) fn check(nodes: &[GraphNode<'_>]) -> Result<Vec<usize>, Vec<Diagnostic>> {
    let index = index_of(nodes.iter().map(|n| n.name));
    let mut problems = Vec::new();
    // Finding the nearest name compares with every step, so suggestions stop after a budget
    // of comparisons: a file of ten thousand unknown names stays fast, and the first ones,
    // the ones shown, still get theirs.
    let mut comparisons_left = SUGGESTION_BUDGET;
    // deps[i]: the indices node i depends on, in written order, each once.
    let mut deps: Vec<Vec<(usize, SourceSpan)>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for &(dep, span) in &node.deps {
            if let Some(&d) = index.get(dep) {
                if !deps[i].iter().any(|(e, _)| *e == d) {
                    deps[i].push((d, span));
                }
            } else {
                let candidates = nodes.iter().map(|n| n.name).filter(|n| *n != node.name);
                let diagnostic = Diagnostic::new(
                    Kind::UnknownDependency {
                        step: node.name.to_owned(),
                        dep: dep.to_owned(),
                    },
                    span,
                )
                .with_label("no step has this name");
                let near = if comparisons_left >= nodes.len() {
                    comparisons_left -= nodes.len();
                    suggest::nearest(dep, candidates)
                } else {
                    None
                };
                problems.push(match near {
                    Some(near) => diagnostic.with_help(format!("did you mean `{near}`?")),
                    None => diagnostic.with_help(step_list(nodes)),
                });
            }
        }
    }
    problems.extend(cycles(nodes, &deps));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(kahn(&deps))
}

/// "the steps are `a`, `b` and `c`", with at most [`NAMES_LISTED`] names.
fn step_list(nodes: &[GraphNode<'_>]) -> String {
    let names: Vec<&str> = nodes.iter().map(|n| n.name).take(NAMES_LISTED).collect();
    if nodes.len() > NAMES_LISTED {
        format!(
            "the steps are {}, and {} more",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            nodes.len() - NAMES_LISTED
        )
    } else {
        format!(
            "the steps are {}",
            suggest::one_of(&names).replacen(" or ", " and ", 1)
        )
    }
}

/// Kahn's algorithm; the ready set is a min-heap of file indices.
fn kahn(deps: &[Vec<(usize, SourceSpan)>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); deps.len()];
    for (i, list) in deps.iter().enumerate() {
        for &(d, _) in list {
            dependents[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = waiting
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut out = Vec::with_capacity(deps.len());
    while let Some(Reverse(i)) = ready.pop() {
        out.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    out
}

/// One diagnostic per cycle: each strongly connected component with more than one step, or a
/// step that depends on itself.
fn cycles(nodes: &[GraphNode<'_>], deps: &[Vec<(usize, SourceSpan)>]) -> Vec<Diagnostic> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(nodes.len(), 0);
    let ids: Vec<NodeIndex> = (0..nodes.len()).map(|i| graph.add_node(i)).collect();
    for (i, list) in deps.iter().enumerate() {
        for &(d, _) in list {
            graph.add_edge(ids[i], ids[d], ());
        }
    }
    let mut components: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .map(|c| {
            let mut members: Vec<usize> = c.into_iter().map(|n| graph[n]).collect();
            members.sort_unstable();
            members
        })
        .filter(|c| c.len() > 1 || deps[c[0]].iter().any(|(d, _)| *d == c[0]))
        .collect();
    components.sort_unstable_by_key(|c| c[0]);
    components
        .iter()
        .map(|members| cycle_diagnostic(nodes, deps, members))
        .collect()
}

/// The shortest cycle through the component's first step (breadth-first over dependencies in
/// written order), with a label on every edge.
fn cycle_diagnostic(
    nodes: &[GraphNode<'_>],
    deps: &[Vec<(usize, SourceSpan)>],
    members: &[usize],
) -> Diagnostic {
    let start = members[0];
    let mut parent: HashMap<usize, (usize, SourceSpan)> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut closing = None;
    'search: while let Some(at) = queue.pop_front() {
        for &(d, span) in &deps[at] {
            if d == start {
                closing = Some((at, span));
                break 'search;
            }
            if members.binary_search(&d).is_ok() && !parent.contains_key(&d) {
                parent.insert(d, (at, span));
                queue.push_back(d);
            }
        }
    }
    let (last, closing_span) = closing.expect("a strongly connected component has a cycle");
    // Edges from the end back to the start, then reversed: (from, to, span of `to` in from's
    // depends_on).
    let mut edges = vec![(last, start, closing_span)];
    let mut at = last;
    while at != start {
        let (from, span) = parent[&at];
        edges.push((from, at, span));
        at = from;
    }
    edges.reverse();
    // A long cycle shows its first and last edges and says how many steps lie between.
    let elided = edges.len().saturating_sub(2 * CYCLE_SHOWN);
    if elided > 0 {
        edges.drain(CYCLE_SHOWN..CYCLE_SHOWN + elided);
    }
    let mut path: Vec<String> = edges
        .iter()
        .map(|(from, _, _)| nodes[*from].name.to_owned())
        .collect();
    if elided > 0 {
        path.insert(
            CYCLE_SHOWN,
            format!("… {} …", crate::count::Count(elided, "more step")),
        );
    }
    path.push(nodes[start].name.to_owned());
    let label =
        |from: usize, to: usize| format!("`{}` depends on `{}`", nodes[from].name, nodes[to].name);
    let (first_from, first_to, first_span) = edges[0];
    let mut diagnostic =
        Diagnostic::new(Kind::Cycle { path }, first_span).with_label(label(first_from, first_to));
    for &(from, to, span) in &edges[1..] {
        diagnostic = diagnostic.with_related(span, label(from, to));
    }
    if elided > 0 {
        diagnostic = diagnostic.with_help(format!(
            "remove one of these dependencies; the cycle has {}, and the first and last {} are shown",
            crate::count::Count(edges.len() + elided, "step"),
            CYCLE_SHOWN
        ));
    }
    if edges.len() == 1 {
        diagnostic = diagnostic
            .with_help("a step cannot depend on itself; remove it from its own `depends_on`");
    }
    diagnostic
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Nodes from `(name, deps)`; each dependency's span is its (node, position) encoded.
    fn nodes<'a>(table: &'a [(&'a str, &'a [&'a str])]) -> Vec<GraphNode<'a>> {
        table
            .iter()
            .enumerate()
            .map(|(i, (name, deps))| GraphNode {
                name,
                deps: deps
                    .iter()
                    .enumerate()
                    .map(|(j, d)| (*d, SourceSpan::from((i * 100 + j * 10, d.len()))))
                    .collect(),
            })
            .collect()
    }

    fn names(table: &[(&str, &[&str])], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| table[i].0.to_owned()).collect()
    }

    #[test]
    fn b16_order_is_file_order_among_ready_steps() {
        let table: &[(&str, &[&str])] = &[
            ("compile", &[]),
            ("test", &["compile"]),
            ("lint", &["compile"]),
            ("package", &["test", "lint"]),
        ];
        let order = check(&nodes(table)).expect("a DAG");
        assert_eq!(names(table, &order), ["compile", "test", "lint", "package"]);
        let more: &[(&str, &[&str])] = &[("d", &["c"]), ("c", &[]), ("b", &[]), ("a", &["b", "c"])];
        let order = check(&nodes(more)).expect("a DAG");
        assert_eq!(names(more, &order), ["c", "d", "b", "a"]);
    }

    #[test]
    fn b16_cycle_is_the_whole_path_from_the_first_step() {
        let table: &[(&str, &[&str])] =
            &[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &["a"])];
        let problems = check(&nodes(table)).expect_err("a cycle");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "dependency cycle `a -> c -> b -> a`"
        );
        // Every edge is labelled: a's `c`, c's `b`, b's `a`.
        assert_eq!(problems[0].span(), Some(SourceSpan::from((0, 1))));
        let related: Vec<(usize, String)> = problems[0]
            .related_labels()
            .iter()
            .map(|l| (l.offset(), l.label().unwrap_or_default().to_owned()))
            .collect();
        assert_eq!(
            related,
            [
                (200, "`c` depends on `b`".to_owned()),
                (100, "`b` depends on `a`".to_owned())
            ]
        );
    }

    /// A graph as `(name, depends_on)` rows.
    type Rows<'a> = &'a [(&'a str, &'a [&'a str])];

    #[test]
    fn problems() {
        let table: &[(Rows<'_>, &[&str])] = &[
            (&[("a", &["a"])], &["dependency cycle `a -> a`"]),
            (
                &[("compile", &[]), ("test", &["compille"])],
                &["step `test` depends on unknown step `compille`"],
            ),
            (
                &[
                    ("a", &["b"]),
                    ("b", &["a"]),
                    ("c", &["d"]),
                    ("d", &["c", "x"]),
                ],
                &[
                    "step `d` depends on unknown step `x`",
                    "dependency cycle `a -> b -> a`",
                    "dependency cycle `c -> d -> c`",
                ],
            ),
            // The shortest way back to the first step is reported.
            (
                &[("a", &["b"]), ("b", &["c", "a"]), ("c", &["a"])],
                &["dependency cycle `a -> b -> a`"],
            ),
        ];
        for (graph, expected) in table {
            let problems = check(&nodes(graph)).expect_err("problems");
            let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
            assert_eq!(messages, *expected, "{graph:?}");
        }
        let problems =
            check(&nodes(&[("compile", &[]), ("test", &["compille"])])).expect_err("unknown");
        assert_eq!(problems[0].help_text(), Some("did you mean `compile`?"));
    }

    proptest! {
        /// Any DAG, written in any file order, gets an order that puts every step after its
        /// dependencies and breaks ties by file order.
        #[test]
        fn random_dags_are_ordered(
            n in 1usize..14,
            edges in proptest::collection::vec((0usize..14, 0usize..14), 0..40),
            shuffle in proptest::collection::vec(0usize..1000, 14),
        ) {
            // Rank r depends only on lower ranks, so the graph is acyclic; the file order is a
            // shuffle of the ranks.
            let mut file: Vec<usize> = (0..n).collect();
            file.sort_by_key(|&r| shuffle[r]);
            let names: Vec<String> = (0..n).map(|r| format!("s{r}")).collect();
            let mut deps: Vec<Vec<&str>> = vec![Vec::new(); n];
            for &(a, b) in &edges {
                let (a, b) = (a % n, b % n);
                if a > b {
                    deps[a].push(&names[b]);
                }
            }
            let graph: Vec<GraphNode<'_>> = file
                .iter()
                .map(|&r| GraphNode {
                    name: &names[r],
                    deps: deps[r].iter().map(|d| (*d, SourceSpan::from((0, 0)))).collect(),
                })
                .collect();
            let order = check(&graph).expect("acyclic");
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
            let position: HashMap<&str, usize> = order
                .iter()
                .enumerate()
                .map(|(p, &i)| (graph[i].name, p))
                .collect();
            for (p, &i) in order.iter().enumerate() {
                for (d, _) in &graph[i].deps {
                    prop_assert!(position[d] < p, "{} before its dependency {}", graph[i].name, d);
                }
            }
            // Ties: each chosen step is the first-written of those ready at that point.
            let mut done = vec![false; n];
            for &i in &order {
                let first_ready = (0..n)
                    .find(|&j| !done[j] && graph[j].deps.iter().all(|(d, _)| {
                        let k = graph.iter().position(|g| g.name == *d).expect("a known name");
                        done[k]
                    }))
                    .expect("something is ready");
                prop_assert_eq!(i, first_ready);
                done[i] = true;
            }
        }

        /// Random graphs, cyclic or not, never panic; a reported cycle's path uses real edges.
        #[test]
        fn random_graphs_report_real_cycles(
            n in 1usize..10,
            edges in proptest::collection::vec((0usize..10, 0usize..10), 0..30),
        ) {
            let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
            let mut deps: Vec<Vec<&str>> = vec![Vec::new(); n];
            for &(a, b) in &edges {
                deps[a % n].push(&names[b % n]);
            }
            let graph: Vec<GraphNode<'_>> = (0..n)
                .map(|i| GraphNode {
                    name: &names[i],
                    deps: deps[i].iter().map(|d| (*d, SourceSpan::from((0, 0)))).collect(),
                })
                .collect();
            if let Err(problems) = check(&graph) {
                for problem in problems {
                    if let Kind::Cycle { path } = problem.kind() {
                        prop_assert_eq!(path.first(), path.last());
                        for pair in path.windows(2) {
                            let from: usize = pair[0][1..].parse().expect("a name");
                            prop_assert!(deps[from].contains(&pair[1].as_str()));
                        }
                    }
                }
            }
        }
    }
}
