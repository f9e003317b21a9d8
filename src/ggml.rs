//! ggml's tensor type table, read from the ggml that llama.cpp links here.
//!
//! Block sizes and byte sizes come from `ggml_get_type_traits`, so every type the vendored
//! llama.cpp loads (BF16, IQ*, TQ*, MXFP4, NVFP4 and whatever comes next) is known without a
//! hand-kept table that could drift from it.

use std::ffi::CStr;
use std::fmt;
use std::sync::OnceLock;

use llama_cpp_sys_2 as sys;

/// A ggml tensor type id known to this build's ggml.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GgmlType(u32);

#[derive(Debug)]
struct Traits {
    name: String,
    block: u64,
    size: u64,
    quantized: bool,
    to_float: sys::ggml_to_float_t,
}

fn table() -> &'static [Option<Traits>] {
    static TABLE: OnceLock<Vec<Option<Traits>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..sys::GGML_TYPE_COUNT)
            .map(|id| {
                // SAFETY: ids below GGML_TYPE_COUNT index ggml's static traits table; the
                // pointer is valid for the life of the process and never written after init.
                let t = unsafe { sys::ggml_get_type_traits(id).as_ref() }?;
                if t.blck_size <= 0 || t.type_size == 0 || t.type_name.is_null() {
                    return None; // a removed type id
                }
                // SAFETY: ggml's type names are static NUL-terminated strings.
                let name = unsafe { CStr::from_ptr(t.type_name) }
                    .to_string_lossy()
                    .into_owned();
                Some(Traits {
                    name,
                    block: t.blck_size as u64,
                    size: t.type_size as u64,
                    quantized: t.is_quantized,
                    to_float: t.to_float,
                })
            })
            .collect()
    })
}

impl GgmlType {
    /// `GGML_TYPE_F32`
    pub const F32: Self = Self(0);
    /// `GGML_TYPE_F16`
    pub const F16: Self = Self(1);
    /// `GGML_TYPE_Q4_0`
    pub const Q4_0: Self = Self(2);
    /// `GGML_TYPE_Q4_1`
    pub const Q4_1: Self = Self(3);
    /// `GGML_TYPE_Q5_0`
    pub const Q5_0: Self = Self(6);
    /// `GGML_TYPE_Q5_1`
    pub const Q5_1: Self = Self(7);
    /// `GGML_TYPE_Q8_0`
    pub const Q8_0: Self = Self(8);
    /// `GGML_TYPE_Q4_K`
    pub const Q4_K: Self = Self(12);
    /// `GGML_TYPE_Q6_K`
    pub const Q6_K: Self = Self(14);
    /// `GGML_TYPE_BF16`
    pub const BF16: Self = Self(30);

    /// The type with this id, if this build's ggml knows it (removed ids are unknown).
    #[must_use]
    pub fn from_id(id: u32) -> Option<Self> {
        table().get(id as usize)?.as_ref().map(|_| Self(id))
    }

    /// `same` (`None`: keep the input's type) or a ggml type name, as `--embd-type` and
    /// `--head-type` take them in both front ends.
    ///
    /// # Errors
    /// The name, when it is neither.
    pub fn from_name_or_same(name: &str) -> Result<Option<Self>, String> {
        match name {
            "same" => Ok(None),
            _ => Self::from_name(name)
                .map(Some)
                .ok_or_else(|| name.to_owned()),
        }
    }

    /// The type with this ggml name (case-insensitive: `q8_0`, `Q4_K`, `bf16`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        table()
            .iter()
            .enumerate()
            .find(|(_, t)| {
                t.as_ref()
                    .is_some_and(|t| t.name.eq_ignore_ascii_case(name))
            })
            .map(|(id, _)| Self(id as u32))
    }

    /// Every type this build's ggml knows.
    pub fn all() -> impl Iterator<Item = Self> {
        table()
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .map(|(id, _)| Self(id as u32))
    }

    fn traits(self) -> &'static Traits {
        table()[self.0 as usize]
            .as_ref()
            .expect("GgmlType values are only made for known ids")
    }

    /// The numeric id.
    #[must_use]
    pub fn id(self) -> u32 {
        self.0
    }

    /// ggml's name (`q8_0`, `f32`, ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        &self.traits().name
    }

    /// Values per block.
    #[must_use]
    pub fn block_size(self) -> u64 {
        self.traits().block
    }

    /// Bytes per block.
    #[must_use]
    pub fn type_size(self) -> u64 {
        self.traits().size
    }

    /// Whether the type is a block quantization.
    #[must_use]
    pub fn is_quantized(self) -> bool {
        self.traits().quantized
    }

    /// Bytes of a row of `width` values (width must be a multiple of the block size).
    #[must_use]
    pub fn row_bytes(self, width: u64) -> u64 {
        width / self.block_size() * self.type_size()
    }

    pub(crate) fn to_float_fn(self) -> sys::ggml_to_float_t {
        self.traits().to_float
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}
