//! Tables kept on the device between calls.
//!
//! The pipeline calls the device more than once with the same tables: `salt` and
//! `salt-centred` regress the same neighbour set, a runtime calls the library per request,
//! and a timing loop repeats a call. [`Resident`] keeps the last call's buffers, one per
//! [`Role`], and a later call whose table has the same content takes the buffer instead of
//! uploading again; the anchors' Gram matrix (3.8 GB for the stress case) is kept the same
//! way, keyed by the anchor table and the anchors it covers.
//!
//! A table is recognised by its content, not its address: the pipeline builds a fresh
//! `Vec` for each method, and an address can be reused by a different table once the first
//! is freed. The key is the length and a 64-bit hash of the bytes (`foldhash`'s quality
//! hasher with a fixed seed, over 4 MiB chunks in parallel, so the key is the same whatever
//! the thread count). Hashing runs at memory speed on every core and costs less than the
//! copy it saves; a false match of two different tables has a chance of about 2^-64.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// Bytes hashed per parallel piece.
const CHUNK: usize = 4 << 20;

/// A table's content key: its length and a hash of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    len: usize,
    hash: u64,
}

/// The key of `bytes`: the same for the same bytes, whatever the thread count.
#[must_use]
pub fn fingerprint(bytes: &[u8]) -> Fingerprint {
    let state = foldhash::quality::FixedState::with_seed(0x5a17_7ab1e5);
    let parts: Vec<u64> = bytes.par_chunks(CHUNK).map(|c| state.hash_one(c)).collect();
    Fingerprint {
        len: bytes.len(),
        hash: state.hash_one(&parts),
    }
}

/// What a kept buffer holds: one of each is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The neighbour search's normalised anchors.
    NeighbourAnchors,
    /// The anchors' PLM rows (A).
    AnchorsT,
    /// The anchors' source rows (B).
    AnchorsS,
    /// The anchors' untied output rows.
    AnchorsOut,
    /// The queries' PLM rows (e).
    Queries,
    /// The supports' offsets.
    Offsets,
    /// The supports' anchor ids.
    SupportIds,
}

/// A buffer on the device, and the key of what it holds.
pub struct Kept<B> {
    /// The buffer.
    pub buf: Arc<B>,
    /// The key of its content.
    pub key: Fingerprint,
}

/// A kept buffer, and the key of what it holds.
struct Entry<B> {
    role: Role,
    key: Fingerprint,
    buf: Arc<B>,
}

/// The anchors' Gram matrix on the device, with the map from an anchor to its row.
pub struct AnchorGram<B> {
    /// `n_u x n_u` doubles.
    pub gram: B,
    /// Each anchor's row in `gram`, or -1 (`n_a` ints).
    pub row: B,
    /// Anchors covered.
    pub n_u: i64,
}

/// The buffers of the last call of each role, and the last anchor Gram matrix.
pub struct Resident<B> {
    entries: Mutex<Vec<Entry<B>>>,
    gram: Mutex<Option<(GramKey, Arc<AnchorGram<B>>)>>,
}

/// What an anchor Gram matrix is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GramKey {
    anchors: Fingerprint,
    h_t: usize,
    used: Fingerprint,
}

impl<B> Default for Resident<B> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            gram: Mutex::new(None),
        }
    }
}

impl<B> Resident<B> {
    /// The kept buffer of `role` when it holds `bytes`, else `upload(bytes)`, kept in its
    /// place (the previous buffer of that role is freed once no call uses it).
    ///
    /// # Errors
    /// What `upload` returns.
    pub fn get_or_upload<E>(
        &self,
        role: Role,
        bytes: &[u8],
        upload: impl FnOnce(&[u8]) -> Result<B, E>,
    ) -> Result<Kept<B>, E> {
        let key = fingerprint(bytes);
        if let Some(buf) = self.find(role, key) {
            return Ok(Kept { buf, key });
        }
        let buf = Arc::new(upload(bytes)?);
        if let Ok(mut v) = self.entries.lock() {
            v.retain(|e| e.role != role);
            v.push(Entry {
                role,
                key,
                buf: Arc::clone(&buf),
            });
        }
        Ok(Kept { buf, key })
    }

    fn find(&self, role: Role, key: Fingerprint) -> Option<Arc<B>> {
        let v = self.entries.lock().ok()?;
        v.iter()
            .find(|e| e.role == role && e.key == key)
            .map(|e| Arc::clone(&e.buf))
    }

    /// The kept Gram matrix of the anchors `used` of the table keyed `anchors` (rows of
    /// `h_t`), else `make()`, kept in place of the last one.
    ///
    /// # Errors
    /// What `make` returns.
    pub fn gram_or_make<E>(
        &self,
        anchors: Fingerprint,
        h_t: usize,
        used: &[u8],
        make: impl FnOnce() -> Result<AnchorGram<B>, E>,
    ) -> Result<Arc<AnchorGram<B>>, E> {
        let key = GramKey {
            anchors,
            h_t,
            used: fingerprint(used),
        };
        if let Ok(g) = self.gram.lock() {
            if let Some((k, gram)) = g.as_ref() {
                if *k == key {
                    return Ok(Arc::clone(gram));
                }
            }
        }
        // The old one is freed before the new one is made: both may not fit.
        if let Ok(mut g) = self.gram.lock() {
            *g = None;
        }
        let gram = Arc::new(make()?);
        if let Ok(mut g) = self.gram.lock() {
            *g = Some((key, Arc::clone(&gram)));
        }
        Ok(gram)
    }

    /// Frees every kept buffer (those a running call holds go when it ends).
    pub fn clear(&self) {
        if let Ok(mut v) = self.entries.lock() {
            v.clear();
        }
        if let Ok(mut g) = self.gram.lock() {
            *g = None;
        }
    }

    /// Buffers kept now, the Gram matrix counted.
    #[must_use]
    pub fn kept(&self) -> usize {
        let n = self.entries.lock().map_or(0, |v| v.len());
        n + self.gram.lock().map_or(0, |g| usize::from(g.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_follows_the_content_not_the_threads() {
        let a: Vec<u8> = (0..(9 << 20)).map(|i: u32| (i % 251) as u8).collect();
        let mut b = a.clone();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(one.install(|| fingerprint(&a)), fingerprint(&a));
        // One byte in the last chunk, two swapped chunks, a shorter table: all differ.
        b[(9 << 20) - 7] ^= 1;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut c = a[CHUNK..2 * CHUNK].to_vec();
        c.extend_from_slice(&a[..CHUNK]);
        assert_ne!(fingerprint(&a[..2 * CHUNK]), fingerprint(&c));
        assert_ne!(fingerprint(&a), fingerprint(&a[..a.len() - 1]));
    }

    #[test]
    fn a_role_keeps_its_last_table_only() {
        let r: Resident<Vec<u8>> = Resident::default();
        let uploads = std::cell::Cell::new(0);
        let up = |b: &[u8]| -> Result<Vec<u8>, ()> {
            uploads.set(uploads.get() + 1);
            Ok(b.to_vec())
        };
        let x = r.get_or_upload(Role::AnchorsT, &[1, 2, 3], up).unwrap();
        let y = r.get_or_upload(Role::AnchorsT, &[1, 2, 3], up).unwrap();
        assert!(Arc::ptr_eq(&x.buf, &y.buf) && x.key == y.key);
        // The same bytes in another role are another buffer.
        r.get_or_upload(Role::AnchorsS, &[1, 2, 3], up).unwrap();
        let z = r.get_or_upload(Role::AnchorsT, &[1, 2, 4], up).unwrap();
        assert_eq!(*z.buf, vec![1, 2, 4]);
        assert_eq!((uploads.get(), r.kept()), (3, 2));
        // The replaced table is uploaded again.
        r.get_or_upload(Role::AnchorsT, &[1, 2, 3], up).unwrap();
        assert_eq!(uploads.get(), 4);
        r.clear();
        assert_eq!(r.kept(), 0);
    }
}
