//! A bounded walk over a fastText `.bin` image before the `fasttext` crate reads it.
//!
//! The crate trusts the file: it reserves `size` dictionary entries up front, reads
//! matrices of the stated shape, and hashes n-grams modulo `bucket`. A corrupt or hostile
//! file could make it allocate gigabytes or divide by zero. This walk checks every count
//! and shape against the bytes actually present, in the format's order (fastText's
//! `FastText::loadModel`: magic, version, args, dictionary, input matrix, output matrix),
//! so that what the crate then allocates is bounded by a small multiple of the file size.

/// `FASTTEXT_FILEFORMAT_MAGIC_INT32`.
const MAGIC: i32 = 793_712_314;
/// The newest format version fastText writes.
const MAX_VERSION: i32 = 12;
/// Byte offset of the `loss` argument (after magic, version and six i32 arguments).
pub(crate) const LOSS_OFFSET: usize = 32;
/// Character n-grams longer than this are refused: the reference default is 6, and each
/// word yields up to `maxn - minn + 1` n-grams per character, all kept in memory.
const MAX_NGRAM: i32 = 32;

struct Walk<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Walk<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.b.len() - self.pos < n {
            return Err(format!(
                "truncated: {what} needs {n} bytes at offset {}, {} left",
                self.pos,
                self.b.len() - self.pos
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn i32(&mut self, what: &str) -> Result<i32, String> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, what: &str) -> Result<i64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    fn left(&self) -> usize {
        self.b.len() - self.pos
    }

    /// A dense matrix header and body; returns its shape. With `finite`, every value must
    /// be a number (the input matrix: its rows become the auxiliary vectors, and one NaN
    /// would turn a token's similarities to every anchor into NaN).
    fn matrix(&mut self, what: &str, finite: bool) -> Result<(i64, i64), String> {
        let m = self.i64(&format!("{what} rows"))?;
        let n = self.i64(&format!("{what} columns"))?;
        let bytes = u64::try_from(m)
            .ok()
            .zip(u64::try_from(n).ok())
            .and_then(|(m, n)| m.checked_mul(n)?.checked_mul(4))
            .ok_or_else(|| format!("{what} has an impossible shape [{m}, {n}]"))?;
        if bytes > self.left() as u64 {
            return Err(format!(
                "{what} claims [{m}, {n}] floats ({bytes} bytes) but {} bytes are left",
                self.left()
            ));
        }
        let body = self.take(bytes as usize, what)?;
        if finite {
            let bad = body.chunks_exact(4).enumerate().find_map(|(i, c)| {
                let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                (!v.is_finite()).then_some((i, v))
            });
            if let Some((i, v)) = bad {
                return Err(format!(
                    "{what} row {} holds a non-finite value ({v}); the model file is damaged: train or download it again",
                    i / n.max(1) as usize
                ));
            }
        }
        Ok((m, n))
    }
}

/// Checks that `b` is a whole, consistent, non-quantized fastText model.
///
/// # Errors
/// A sentence saying what is wrong and where, for the caller to wrap with the path.
pub(crate) fn check_fasttext_bin(b: &[u8]) -> Result<(), String> {
    let mut w = Walk { b, pos: 0 };
    if w.i32("magic")? != MAGIC {
        return Err("not a fastText .bin model (wrong magic number)".into());
    }
    let version = w.i32("version")?;
    if !(1..=MAX_VERSION).contains(&version) {
        return Err(format!(
            "format version {version} is not supported (1..={MAX_VERSION})"
        ));
    }
    // Args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
    // lrUpdateRate (i32 each), then t (f64).
    let mut args = [0i32; 12];
    for a in &mut args {
        *a = w.i32("the training arguments")?;
    }
    w.take(8, "the training arguments")?;
    let [dim, _ws, _epoch, _min_count, _neg, _word_ngrams, loss, model, bucket, minn, maxn, _lr] =
        args;
    if dim <= 0 || !(1..=4).contains(&loss) || !(1..=3).contains(&model) || bucket < 0 {
        return Err(format!(
            "invalid arguments (dim {dim}, loss {loss}, model {model}, bucket {bucket})"
        ));
    }
    if maxn != 0 && !(1 <= minn && minn <= maxn && maxn <= MAX_NGRAM && bucket > 0) {
        return Err(format!(
            "invalid character n-gram settings (minn {minn}, maxn {maxn}, bucket {bucket})"
        ));
    }
    // Dictionary: size, nwords, nlabels (i32), ntokens, pruneidx_size (i64), entries.
    let size = w.i32("the dictionary size")?;
    let nwords = w.i32("the word count")?;
    let nlabels = w.i32("the label count")?;
    w.i64("the token count")?;
    let prune = w.i64("the pruned index size")?;
    if size < 0
        || nwords < 0
        || nlabels < 0
        || i64::from(size) != i64::from(nwords) + i64::from(nlabels)
    {
        return Err(format!(
            "inconsistent dictionary counts (size {size}, words {nwords}, labels {nlabels})"
        ));
    }
    // An entry is at least a NUL, an i64 count and a type byte.
    if size as usize > w.left() / 10 {
        return Err(format!(
            "the dictionary claims {size} entries but only {} bytes are left",
            w.left()
        ));
    }
    for i in 0..size {
        let rest = &w.b[w.pos..];
        let len = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| format!("dictionary entry {i} has no terminating NUL"))?;
        if std::str::from_utf8(&rest[..len]).is_err() {
            return Err(format!("dictionary entry {i} is not UTF-8"));
        }
        w.take(len + 1, "a dictionary word")?;
        w.i64("a word count")?;
        let ty = w.take(1, "an entry type")?[0];
        if ty > 1 {
            return Err(format!(
                "dictionary entry {i} has type {ty} (0 word, 1 label)"
            ));
        }
    }
    if prune > 0 {
        return Err("a pruned (quantized) dictionary is not supported; use the .bin model".into());
    }
    if w.take(1, "the quantization flag")?[0] != 0 {
        return Err("quantized models (.ftz) are not supported; use the .bin model".into());
    }
    let (m, n) = w.matrix("the input matrix", true)?;
    if m != i64::from(nwords) + i64::from(bucket) || n != i64::from(dim) {
        return Err(format!(
            "the input matrix is [{m}, {n}], expected [{} words + {bucket} buckets, {dim}]",
            nwords
        ));
    }
    if w.take(1, "the output quantization flag")?[0] != 0 {
        return Err("a quantized output matrix is not supported".into());
    }
    let (_, n_out) = w.matrix("the output matrix", false)?;
    if n_out != i64::from(dim) {
        return Err(format!(
            "the output matrix has {n_out} columns, expected {dim}"
        ));
    }
    if w.left() != 0 {
        return Err(format!(
            "{} unexpected bytes after the output matrix",
            w.left()
        ));
    }
    Ok(())
}
