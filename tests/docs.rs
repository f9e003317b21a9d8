//! The documentation stands alone: every relative link of the README and `docs/`
//! resolves to a file of the repository, and nothing points outside it.

use std::path::{Path, PathBuf};

/// The README and every `docs/*.md`.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            pages.push(e.path());
        }
    }
    pages
}

/// The targets of the `[text](target)` links of `md`.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(j) = rest.find(')') {
            out.push(rest[..j].to_owned());
        }
    }
    out
}

#[test]
fn every_relative_link_resolves_and_nothing_points_outside() {
    let pages = pages();
    assert!(pages.len() >= 8, "{pages:?}");
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        // Spelt in pieces so that this file does not name them itself.
        let outside = [
            ["..", "/shared"].concat(),
            ["shared", "/"].concat(),
            ["SALT", ".md"].concat(),
            ["ASSETS", ".md"].concat(),
        ];
        for bad in &outside {
            assert!(
                !text.contains(bad.as_str()),
                "{} mentions {bad}",
                page.display()
            );
        }
        for link in links(&text) {
            if link.starts_with("http") || link.starts_with('#') {
                continue;
            }
            let file = link.split('#').next().unwrap();
            let target = page.parent().unwrap().join(file);
            assert!(
                target.exists(),
                "{}: the link {link} leads nowhere",
                page.display()
            );
            assert!(
                target.canonicalize().unwrap().starts_with(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .canonicalize()
                        .unwrap()
                ),
                "{}: {link} leaves the repository",
                page.display()
            );
        }
    }
}
