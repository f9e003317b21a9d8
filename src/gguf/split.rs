//! Models split over several files, as llama.cpp's gguf-split and `llama-quantize
//! --keep-split` write them: `NAME-00001-of-00003.gguf`, `NAME-00002-of-00003.gguf`, ...
//!
//! The first file holds every metadata key and some tensors; the others hold only the
//! `split.*` keys and their tensors. Each file has its own header, data section and
//! tensor offsets. Every file carries `split.no` (u16, from 0), `split.count` (u16) and
//! `split.tensors.count` (i32, the total), with the types llama.cpp's loader asks for.
//!
//! Reading ([`join`]): the first file's path names the others; they are opened and their
//! tensors appended, each tagged with its part. The joined model's metadata drops the
//! `split.*` keys, so that writing it again gives one ordinary file.
//!
//! Writing ([`plan`]): tensors go, in order, into files of at most `max_bytes` each
//! (header and padding counted; a tensor bigger than that gets a file of its own).

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::keys::{GENERAL_ALIGNMENT, SPLIT_COUNT, SPLIT_NO, SPLIT_TENSORS_COUNT};
use super::{GgufFile, GgufHeader, Kv, TensorInfo, Value};
use crate::error::GgufError;

/// The most files llama.cpp's `split.count` (a u16) can name.
pub const MAX_PARTS: usize = u16::MAX as usize;

/// The path of file `no` (from 0) of `count` for the output `out`: `.gguf` gives way to
/// `-NNNNN-of-MMMMM.gguf` (`ko.gguf` -> `ko-00001-of-00003.gguf`), llama.cpp's pattern.
#[must_use]
pub fn part_path(out: &Path, no: usize, count: usize) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".gguf").unwrap_or(&name);
    out.with_file_name(format!("{stem}-{:05}-of-{count:05}.gguf", no + 1))
}

/// `(prefix, index from 0, count)` of a name in llama.cpp's pattern for split files,
/// `PREFIX-NNNNN-of-MMMMM.gguf` (the prefix keeps any folder of the path).
fn parse_name(s: &str) -> Option<(&str, usize, usize)> {
    let rest = s.strip_suffix(".gguf")?;
    let (head, count) = rest.rsplit_once("-of-")?;
    let (prefix, no) = head.rsplit_once('-')?;
    let digits = |x: &str| x.len() == 5 && x.bytes().all(|b| b.is_ascii_digit());
    if !(digits(no) && digits(count)) || prefix.is_empty() {
        return None;
    }
    let (no, count): (usize, usize) = (no.parse().ok()?, count.parse().ok()?);
    // No part 00000: checked, since `then_some` would compute `no - 1` first.
    no.checked_sub(1).map(|i| (prefix, i, count))
}

/// A file stem without its split suffix (`ko-00001-of-00003` -> `ko`); others unchanged.
#[must_use]
pub fn unsplit_stem(stem: &str) -> String {
    let name = format!("{stem}.gguf");
    parse_name(&name).map_or_else(|| stem.to_owned(), |(p, _, _)| p.to_owned())
}

/// Whether `name` is a part name of the output `out` (any number of parts).
#[must_use]
pub fn is_part_of(out: &Path, name: &str) -> bool {
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = base.strip_suffix(".gguf").unwrap_or(&base);
    parse_name(name).is_some_and(|(p, _, _)| p == stem)
}

/// The files of the split model that `path` names by its pattern, when they exist
/// (`m-00001-of-00003.gguf` -> its three files); `[path]` for any other name. Found by
/// name alone, without reading: for guarding inputs before anything is opened.
#[must_use]
pub fn sibling_paths(path: &Path) -> Vec<PathBuf> {
    match path.to_str().and_then(parse_name) {
        Some((prefix, _, count)) if count > 1 => (0..count)
            .map(|i| PathBuf::from(format!("{prefix}-{:05}-of-{count:05}.gguf", i + 1)))
            .filter(|p| p == path || p.exists())
            .collect(),
        _ => vec![path.to_path_buf()],
    }
}

/// Whether `kv` is one of gguf-split's keys.
fn is_split_key(kv: &Kv) -> bool {
    [SPLIT_NO, SPLIT_COUNT, SPLIT_TENSORS_COUNT]
        .iter()
        .any(|k| kv.key == k.as_bytes())
}

fn bad(path: &Path, reason: String) -> GgufError {
    GgufError::BadSplit {
        path: path.to_path_buf(),
        reason,
    }
}

/// The prefix of a part's path (`dir/NAME` of `dir/NAME-00002-of-00003.gguf`), when its
/// name follows llama.cpp's pattern for part `no` of `count`.
fn prefix_of(path: &Path, no: usize, count: usize) -> Option<String> {
    path.to_str()
        .and_then(parse_name)
        .filter(|&(_, n, c)| (n, c) == (no, count))
        .map(|(p, _, _)| p.to_owned())
}

/// Joins a split model from its first file: opens the other parts next to it and
/// appends their tensors. A file without `split.count`, or with a count of 1, comes back
/// as it is (less its `split.*` keys).
///
/// # Errors
/// [`GgufError::BadSplit`] for a later part given first, a name that does not lead to the
/// others, a missing part, parts that disagree on the count or their order, or a tensor
/// total that is not `split.tensors.count`; any error of the parts' own headers.
pub fn join(mut first: GgufFile) -> Result<GgufFile, GgufError> {
    let Some(count) = first.opt_u64(SPLIT_COUNT)? else {
        return Ok(first);
    };
    let no = first.opt_u64(SPLIT_NO)?.unwrap_or(0);
    let total = first.opt_u64(SPLIT_TENSORS_COUNT)?;
    let path = first.path().to_path_buf();
    let count = usize::try_from(count)
        .ok()
        .filter(|c| (1..=MAX_PARTS).contains(c))
        .ok_or_else(|| {
            bad(
                &path,
                format!("{SPLIT_COUNT} is {count}; a split model has 1 to {MAX_PARTS} files"),
            )
        })?;
    let no = usize::try_from(no).unwrap_or(usize::MAX);
    if no != 0 {
        let hint = prefix_of(&path, no, count).map_or_else(
            || "its first file".to_owned(),
            |p| format!("{p}-00001-of-{count:05}.gguf"),
        );
        return Err(bad(
            &path,
            format!(
                "this is file {} of {count} of a split model ({SPLIT_NO} = {no}); pass the first one, {hint}",
                no.saturating_add(1)
            ),
        ));
    }
    first.kvs.retain(|kv| !is_split_key(kv));
    if count > 1 {
        let prefix = prefix_of(&path, 0, count).ok_or_else(|| {
            bad(
                &path,
                format!(
                    "the first of {count} files of a split model, but its name does not end in -00001-of-{count:05}.gguf, so the other files cannot be found; keep the names gguf-split gave them"
                ),
            )
        })?;
        let mut names: std::collections::HashSet<Vec<u8>> =
            first.tensors.iter().map(|t| t.name.clone()).collect();
        for i in 1..count {
            let p = PathBuf::from(format!("{prefix}-{:05}-of-{count:05}.gguf", i + 1));
            if !p.exists() {
                return Err(bad(
                    &p,
                    format!(
                        "file {} of {count} of the split model {} is missing; all files must lie in one folder",
                        i + 1,
                        path.display()
                    ),
                ));
            }
            let part = GgufFile::open_part(&p)?;
            let (pno, pcount) = (part.opt_u64(SPLIT_NO)?, part.opt_u64(SPLIT_COUNT)?);
            if pno != Some(i as u64) || pcount != Some(count as u64) {
                return Err(bad(
                    &p,
                    format!(
                        "expected {SPLIT_NO} = {i} and {SPLIT_COUNT} = {count} (file {} of {count}), found {} and {}; the files come from different splits",
                        i + 1,
                        pno.map_or_else(|| "none".into(), |v| v.to_string()),
                        pcount.map_or_else(|| "none".into(), |v| v.to_string()),
                    ),
                ));
            }
            for t in &part.tensors {
                if !names.insert(t.name.clone()) {
                    return Err(GgufError::DuplicateTensor {
                        path: p.clone(),
                        tensor: t.name_str().into_owned(),
                    });
                }
                first.tensors.push(TensorInfo {
                    part: i,
                    ..t.clone()
                });
            }
            first.more.push(part);
        }
    }
    if let Some(total) = total.filter(|&n| n != first.tensors.len() as u64) {
        return Err(bad(
            &path,
            format!(
                "{SPLIT_TENSORS_COUNT} is {total} but the {count} files hold {} tensors; a file is damaged or from another split",
                first.tensors.len()
            ),
        ));
    }
    Ok(first)
}

/// One output file of a split write: its header and the range of the whole header's
/// tensors (and sources) it holds.
#[derive(Clone, Debug)]
pub struct SplitPart {
    /// The file's header, `split.*` keys included.
    pub header: GgufHeader,
    /// Indices into the unsplit header's tensors.
    pub tensors: Range<usize>,
}

/// The `split.*` keys of file `no` of `count` holding `total` tensors between them.
fn split_keys(no: usize, count: usize, total: usize) -> [Kv; 3] {
    [
        Kv::new(SPLIT_NO, Value::U16(no as u16)),
        Kv::new(SPLIT_COUNT, Value::U16(count as u16)),
        Kv::new(
            SPLIT_TENSORS_COUNT,
            Value::I32(i32::try_from(total).unwrap_or(i32::MAX)),
        ),
    ]
}

/// Serialised size of `kvs`.
fn kvs_len(kvs: &[Kv]) -> u64 {
    let mut buf = Vec::new();
    super::write::put_kvs(&mut buf, kvs);
    buf.len() as u64
}

/// Serialised size of one tensor info (name, dims, type, offset).
fn info_len(t: &TensorInfo) -> u64 {
    8 + t.name.len() as u64 + 4 + 8 * t.dims.len() as u64 + 4 + 8
}

/// Splits `header` into files of at most `max_bytes` each, tensors kept in order: the
/// first file gets every key, the others only the `split.*` keys (and `general.alignment`
/// when the model sets one, so that every file lays out its data alike).
///
/// # Errors
/// [`GgufError::BadSplit`] (naming `out`) when more than [`MAX_PARTS`] files would be needed.
pub fn plan(header: &GgufHeader, max_bytes: u64, out: &Path) -> Result<Vec<SplitPart>, GgufError> {
    let mut kvs0: Vec<Kv> = header
        .kvs
        .iter()
        .filter(|kv| !is_split_key(kv))
        .cloned()
        .collect();
    let align_kv: Vec<Kv> = kvs0
        .iter()
        .filter(|kv| kv.key == GENERAL_ALIGNMENT.as_bytes())
        .cloned()
        .collect();
    let alignment = header.alignment();
    let keys_len = kvs_len(&split_keys(0, 1, 0));
    // 24: magic, version, tensor count, key count.
    let base = |first: bool| {
        24 + keys_len
            + if first {
                kvs_len(&kvs0)
            } else {
                kvs_len(&align_kv)
            }
    };
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let (mut start, mut infos, mut data, mut head) = (0usize, 0u64, 0u64, base(true));
    for (i, t) in header.tensors.iter().enumerate() {
        let (info, bytes) = (info_len(t), t.n_bytes().next_multiple_of(alignment));
        let size = (head + infos + info).next_multiple_of(alignment) + data + bytes;
        if i > start && size > max_bytes {
            ranges.push(start..i);
            (start, infos, data, head) = (i, 0, 0, base(false));
        }
        infos += info;
        data += bytes;
    }
    ranges.push(start..header.tensors.len());
    let count = ranges.len();
    if count > MAX_PARTS {
        return Err(bad(
            out,
            format!("a split of at most {max_bytes} bytes per file needs {count} files, more than the {MAX_PARTS} llama.cpp can name; give a larger --split-max-size"),
        ));
    }
    let total = header.tensors.len();
    kvs0.extend(split_keys(0, count, total));
    Ok(ranges
        .into_iter()
        .enumerate()
        .map(|(no, r)| {
            let kvs = if no == 0 {
                kvs0.clone()
            } else {
                let mut k = split_keys(no, count, total).to_vec();
                k.extend(align_kv.iter().cloned());
                k
            };
            SplitPart {
                header: GgufHeader {
                    version: header.version,
                    kvs,
                    tensors: header.tensors[r.clone()].to_vec(),
                },
                tensors: r,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ggml::GgmlType;

    fn tensor(name: &str, rows: u64) -> TensorInfo {
        TensorInfo {
            name: name.as_bytes().to_vec(),
            dims: vec![256, rows],
            ty: GgmlType::F32,
            offset: 0,
            part: 0,
        }
    }

    #[test]
    fn names_follow_llama_cpp() {
        let out = Path::new("/x/ko.gguf");
        assert_eq!(part_path(out, 0, 3), Path::new("/x/ko-00001-of-00003.gguf"));
        assert_eq!(part_path(out, 2, 3), Path::new("/x/ko-00003-of-00003.gguf"));
        assert!(is_part_of(out, "ko-00002-of-00003.gguf"));
        assert!(!is_part_of(out, "ko-2-of-3.gguf"));
        assert!(!is_part_of(out, "kor-00002-of-00003.gguf"));
        assert_eq!(unsplit_stem("ko-00001-of-00003"), "ko");
        assert_eq!(unsplit_stem("ko-00000-of-00003"), "ko-00000-of-00003");
        assert_eq!(unsplit_stem("ko-1-of-3"), "ko-1-of-3");
        assert_eq!(unsplit_stem("-00001-of-00003"), "-00001-of-00003");
        assert_eq!(
            prefix_of(Path::new("a/m-00002-of-00004.gguf"), 1, 4).as_deref(),
            Some("a/m")
        );
        assert_eq!(prefix_of(Path::new("a/m-00002-of-00004.gguf"), 0, 4), None);
    }

    #[test]
    fn every_file_stays_under_the_limit_unless_one_tensor_is_bigger() {
        let header = GgufHeader {
            version: 3,
            kvs: vec![Kv::new("general.name", Value::str("m"))],
            // 1 KiB per row: 10, 20, 300 (alone too big), 5, 5 KiB.
            tensors: [10, 20, 300, 5, 5]
                .iter()
                .enumerate()
                .map(|(i, &r)| tensor(&format!("t{i}"), r))
                .collect(),
        };
        let max = 40 * 1024;
        let parts = plan(&header, max, Path::new("o.gguf")).unwrap();
        let ranges: Vec<_> = parts.iter().map(|p| p.tensors.clone()).collect();
        assert_eq!(ranges, vec![0..2, 2..3, 3..5]);
        for (no, p) in parts.iter().enumerate() {
            let mut buf = Vec::new();
            let sources: Vec<_> = p
                .header
                .tensors
                .iter()
                .map(|t| super::super::TensorSource::Bytes(vec![0; t.n_bytes() as usize]))
                .collect();
            let n =
                super::super::write_gguf(&mut buf, Path::new("mem"), &p.header, &sources).unwrap();
            assert_eq!(n, buf.len() as u64);
            assert!(n <= max || p.tensors.len() == 1, "file {no}: {n} bytes");
            let f = GgufFile::from_bytes("mem", buf).unwrap();
            assert_eq!(f.opt_u64(SPLIT_NO).unwrap(), Some(no as u64));
            assert_eq!(f.opt_u64(SPLIT_COUNT).unwrap(), Some(3));
            assert_eq!(f.opt_u64(SPLIT_TENSORS_COUNT).unwrap(), Some(5));
            assert_eq!(f.get("general.name").is_some(), no == 0);
        }
        // A limit above the whole model gives one file.
        assert_eq!(
            plan(&header, 1 << 30, Path::new("o.gguf")).unwrap().len(),
            1
        );
    }
}
