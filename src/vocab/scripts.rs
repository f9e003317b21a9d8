//! Writing systems for trimming (`--keep-script`): a small table of Unicode ranges, and
//! the characters every text needs whatever its language (digits, ASCII, common
//! punctuation). A table of a dozen scripts is enough here; a full Unicode script
//! database (the `unicode-script` crate) would add a dependency for names nobody passes.

/// A writing system, by its Unicode ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Script {
    /// Its Unicode name (`Hangul`, `Cyrillic`, ...).
    pub name: &'static str,
    ranges: &'static [(u32, u32)],
}

/// The scripts `--keep-script` knows.
pub const SCRIPTS: [Script; 12] = [
    Script {
        name: "Hangul",
        ranges: &[
            (0x1100, 0x11FF),
            (0x3130, 0x318F),
            (0xA960, 0xA97F),
            (0xAC00, 0xD7A3),
            (0xD7B0, 0xD7FF),
        ],
    },
    Script {
        name: "Latin",
        ranges: &[(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)],
    },
    Script {
        name: "Greek",
        ranges: &[(0x370, 0x3FF), (0x1F00, 0x1FFF)],
    },
    Script {
        name: "Cyrillic",
        ranges: &[(0x400, 0x52F)],
    },
    Script {
        name: "Hebrew",
        ranges: &[(0x590, 0x5FF)],
    },
    Script {
        name: "Arabic",
        ranges: &[(0x600, 0x6FF), (0x750, 0x77F)],
    },
    Script {
        name: "Devanagari",
        ranges: &[(0x900, 0x97F)],
    },
    Script {
        name: "Thai",
        ranges: &[(0xE00, 0xE7F)],
    },
    Script {
        name: "Hiragana",
        ranges: &[(0x3040, 0x309F)],
    },
    Script {
        name: "Katakana",
        ranges: &[(0x30A0, 0x30FF)],
    },
    Script {
        name: "Han",
        ranges: &[(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)],
    },
    Script {
        name: "Georgian",
        ranges: &[(0x10A0, 0x10FF)],
    },
];

impl Script {
    /// The script called `name` (case-insensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        SCRIPTS
            .iter()
            .copied()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The scripts named, for `--keep-script` and `"keep_script"` alike.
    ///
    /// # Errors
    /// The first name that is not a script here (each front end words the message).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, String> {
        names
            .into_iter()
            .map(|n| Self::from_name(n).ok_or_else(|| n.to_owned()))
            .collect()
    }

    /// Every script's name, comma-separated, for the front ends' error messages.
    #[must_use]
    pub fn names() -> String {
        let all: Vec<&str> = SCRIPTS.iter().map(|s| s.name).collect();
        all.join(", ")
    }

    /// Whether `c` belongs to it.
    #[must_use]
    pub fn contains(self, c: char) -> bool {
        let u = c as u32;
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&u))
    }
}

/// Characters any text of any language needs: ASCII letters, digits and punctuation,
/// Latin-1 punctuation and signs (`·`, `«`, `°`), general punctuation (dashes, quotes,
/// `…`), CJK punctuation and fullwidth ASCII.
#[must_use]
pub fn is_basic(c: char) -> bool {
    let u = c as u32;
    c.is_ascii_graphic()
        || (0xA1..=0xBF).contains(&u)
        || (0x2010..=0x205E).contains(&u)
        || (0x3000..=0x303F).contains(&u)
        || (0xFF01..=0xFF5E).contains(&u)
}
