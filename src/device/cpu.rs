//! The CPU device: faer kernels inside rayon tasks (see [`crate::neighbours`] and
//! [`crate::regression`]).

use super::{Compute, Tick};
use crate::error::Error;
use crate::neighbours::{neighbours_ticked, Neighbours};
use crate::regression::{regress_ticked, Regressed, RegressionInput};

/// The CPU (all rayon threads of the current pool).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

impl Compute for Cpu {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn neighbours(
        &self,
        queries: &[f32],
        anchors: &[f32],
        dim: usize,
        max_k: Option<usize>,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Neighbours>, Error> {
        Ok(neighbours_ticked(queries, anchors, dim, max_k, tick))
    }

    fn regress(
        &self,
        inp: &RegressionInput<'_>,
        nb: &Neighbours,
        tick: &mut Tick<'_>,
    ) -> Result<Option<Regressed>, Error> {
        Ok(regress_ticked(inp, nb, tick)?)
    }
}
