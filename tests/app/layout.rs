//! docs/layout.md's tree against the repository's tracked files: every name it gives exists,
//! every file a line's description names exists under it, and each folder the tree opens
//! (root, and any folder with lines indented under it) names all of its children.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// A line of the tree: its depth, the path it names (folders end in `/`), and the text of the
/// line with every line indented under it (its scope).
struct Entry {
    depth: usize,
    path: String,
    own: String,
}

fn tracked() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("git").args(["ls-files"]).current_dir(root).output().expect("git ls-files");
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn entries(block: &str) -> Vec<Entry> {
    let mut parents: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for line in block.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent >= 16 {
            if let Some(entry) = entries.last_mut() {
                entry.own.push_str(line);
            }
            continue;
        }
        let depth = indent / 2;
        parents.truncate(depth);
        let names = line.trim_start().split("  ").next().unwrap();
        for name in names.split(", ").map(|n| n.split(' ').next().unwrap()) {
            let path = format!("{}{name}", parents.concat());
            entries.push(Entry { depth, path, own: line.to_owned() });
        }
        if names.ends_with('/') && !names.contains(", ") {
            parents.push(names.to_owned());
        }
    }
    entries
}

/// The words of `text`, and each part of a word that is a path.
fn words(text: &str) -> BTreeSet<&str> {
    let split = |c: char| c.is_whitespace() || ",;():".contains(c);
    text.split(split).flat_map(|w| w.split('/')).filter(|w| !w.is_empty()).collect()
}

#[test]
fn docs_layout_names_every_file_and_nothing_that_is_not_there() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/layout.md")).unwrap();
    let block = doc.split("```\n").nth(1).expect("a fenced tree in docs/layout.md");
    let files = tracked();
    let exists = |path: &str| files.iter().any(|f| f == path || (path.ends_with('/') && f.starts_with(path)));
    let entries = entries(block);
    let mut wrong = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if !exists(&entry.path) {
            wrong.push(format!("{} is named but not tracked", entry.path));
        }
        let dir = if entry.path.ends_with('/') { entry.path.as_str() } else { "" };
        let dir = if dir.is_empty() { entry.path.rsplit_once('/').map_or("", |(d, _)| d) } else { dir };
        let description = entry.own.trim_start().split_once("  ").map_or("", |(_, d)| d);
        for file in description.split(|c: char| c.is_whitespace() || ",;():".contains(c)) {
            let file = file.trim_end_matches('.');
            let is_file =
                [".rs", ".md", ".toml", ".sh", ".lock", ".sql", ".json"].iter().any(|e| file.ends_with(e));
            if is_file
                && !files
                    .iter()
                    .any(|f| (f.starts_with(dir) && f.ends_with(&format!("/{file}"))) || f == file)
            {
                wrong.push(format!("{}'s line names {file}, which is not under {dir}", entry.path));
            }
        }
        // A folder with lines under it, and the root: all of its children must be named.
        let opened = entries.get(i + 1).is_some_and(|next| next.depth > entry.depth) && dir == entry.path;
        if opened {
            let scope: String = entries[i..]
                .iter()
                .take_while(|e| e.path.starts_with(dir))
                .map(|e| format!("{} {}\n", e.path, e.own))
                .collect();
            check_children(&files, dir, &scope, &mut wrong);
        }
    }
    check_children(&files, "", block, &mut wrong);
    wrong.dedup();
    assert!(wrong.is_empty(), "docs/layout.md is out of date:\n{}", wrong.join("\n"));
}

fn check_children(files: &[String], dir: &str, scope: &str, wrong: &mut Vec<String>) {
    let named = words(scope);
    let children: BTreeSet<&str> =
        files.iter().filter_map(|f| f.strip_prefix(dir)).filter_map(|f| f.split('/').next()).collect();
    for child in children.into_iter().filter(|c| !named.contains(c)) {
        wrong.push(format!("{dir}{child} is tracked but docs/layout.md does not name it"));
    }
}
