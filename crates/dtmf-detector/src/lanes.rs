//! The bank's vector kernels: one lane group is [`LANES`] channels side by side.
//!
//! - [`Feed`]: Goertzel recurrences over interleaved frames, channels across vector lanes, so
//!   each filter is an independent vector chain. With 32 registers of 512 bits all eight
//!   filters' states, their coefficients and the input row stay in registers, and a row costs
//!   one load, one store (into the block's rows), a conversion, two energy sums and sixteen
//!   arithmetic operations for sixteen channels. With sixteen registers the filters run in
//!   passes of two, reading the row back from the history.
//!   A segment's states start from zero and are finished into complex bins inside the feed,
//!   from registers ([`LaneGroup::finish_from`]); only a segment cut by the end of a call is
//!   stored and picked up again.
//! - [`LaneGroup::screen`]: per block, every lane's bin amplitudes, its strongest pair and
//!   whether that pair passes the classifier's cheap tests. Lanes that fail (silence, noise,
//!   most speech and music) and whose tracker is idle never reach scalar code.

use crate::classify::{passes, to_energy};
use crate::config::Limits;
use crate::echo::ENERGY_BLOCKS;
use crate::harmonic::WINDOW_BLOCKS;
use crate::spectrum::{Coefficients, FILTERS, SEGMENTS};
use crate::vector::{F32x16, WIDTH, prefetch};

/// Channels per lane group: one 512-bit register of `f32`.
pub const LANES: usize = WIDTH;
/// One value per lane.
pub(crate) type Lanes = [f32; LANES];
/// Per-filter values across a group's lanes.
pub(crate) type FilterLanes = [Lanes; FILTERS];
/// Filters per pass when registers are few.
const NARROW_PASS: usize = 2;

/// One group of channels: running state, finished segments, amplitudes and the block's rows.
#[derive(Clone, Debug)]
pub(crate) struct LaneGroup {
    s1: FilterLanes,
    s2: FilterLanes,
    sum: Lanes,
    sum_sq: Lanes,
    /// Finished segments of the current block.
    pub(crate) segments_re: [FilterLanes; SEGMENTS],
    pub(crate) segments_im: [FilterLanes; SEGMENTS],
    /// Bin amplitudes of the last two blocks, block `k` in slot `k % 2`.
    pub(crate) amplitude: [FilterLanes; 2],
    /// AC energy of the last blocks, block `k` in slot `k % ENERGY_BLOCKS`: the echo rule's
    /// history.
    pub(crate) energy: [Lanes; ENERGY_BLOCKS],
    /// Lanes whose tracker is not idle: they are visited every block.
    pub(crate) busy: u32,
    /// The last [`WINDOW_BLOCKS`] blocks' samples, one row per frame, block `k` from row
    /// `(k % 3)·N`: the harmonic veto's window, and what the narrow kernel's filter passes read
    /// back.
    pub(crate) rows: Vec<[i16; LANES]>,
}

/// What [`LaneGroup::screen`] found in one block.
pub(crate) struct Screen {
    /// Per lane, the strongest low-group and high-group filter.
    pub(crate) low: [u8; LANES],
    pub(crate) high: [u8; LANES],
    /// Bit per lane: those two pass the energy, level, twist and share tests.
    pub(crate) possible: u32,
}

impl LaneGroup {
    pub(crate) fn new(block_len: usize) -> Self {
        Self {
            s1: [[0.0; LANES]; FILTERS],
            s2: [[0.0; LANES]; FILTERS],
            sum: [0.0; LANES],
            sum_sq: [0.0; LANES],
            segments_re: [[[0.0; LANES]; FILTERS]; SEGMENTS],
            segments_im: [[[0.0; LANES]; FILTERS]; SEGMENTS],
            amplitude: [[[0.0; LANES]; FILTERS]; 2],
            energy: [[0.0; LANES]; ENERGY_BLOCKS],
            busy: 0,
            rows: vec![[0; LANES]; WINDOW_BLOCKS * block_len],
        }
    }

    pub(crate) fn clear_lane(&mut self, lane: usize) {
        for slot in &mut self.energy {
            slot[lane] = 0.0;
        }
        for f in 0..FILTERS {
            self.s1[f][lane] = 0.0;
            self.s2[f][lane] = 0.0;
            for slot in &mut self.amplitude {
                slot[f][lane] = 0.0;
            }
        }
        self.sum[lane] = 0.0;
        self.sum_sq[lane] = 0.0;
        self.busy &= !(1 << lane);
        self.rows.iter_mut().for_each(|row| row[lane] = 0);
    }

    /// Ends segment `m`: its bins from the Goertzel states in memory, which restart from zero.
    #[inline(always)]
    fn finish_segment<V: F32x16>(&mut self, coeffs: &Coefficients, m: usize) {
        let s1: [V; FILTERS] = std::array::from_fn(|f| V::load(&self.s1[f]));
        let s2: [V; FILTERS] = std::array::from_fn(|f| V::load(&self.s2[f]));
        self.finish_from(coeffs, m, &s1, &s2);
        self.s1 = [[0.0; LANES]; FILTERS];
        self.s2 = [[0.0; LANES]; FILTERS];
    }

    /// Segment `m`'s bins from its last two Goertzel states.
    #[inline(always)]
    fn finish_from<V: F32x16>(
        &mut self,
        coeffs: &Coefficients,
        m: usize,
        s1: &[V; FILTERS],
        s2: &[V; FILTERS],
    ) {
        for f in 0..FILTERS {
            let [a, b, c, d] = coeffs.finish[m][f].map(V::splat);
            a.mul_add(s1[f], b.mul(s2[f]))
                .store(&mut self.segments_re[m][f]);
            c.mul_add(s1[f], d.mul(s2[f]))
                .store(&mut self.segments_im[m][f]);
        }
    }

    /// Ends block `block` (all segments finished): energies, powers, and per lane the
    /// strongest low and high bins and whether they pass the cheap tests of
    /// [`strongest_pair`](crate::classify::strongest_pair), with its arithmetic. Stores the
    /// amplitudes in slot `block % 2` and restarts the energy sums.
    #[inline(always)]
    pub(crate) fn screen<V: F32x16>(&mut self, limits: &Limits, n: usize, block: u64) -> Screen {
        let mut power: FilterLanes = [[0.0; LANES]; FILTERS];
        let slot = (block % 2) as usize;
        for f in 0..FILTERS {
            let (mut re, mut im) = (V::zero(), V::zero());
            for m in 0..SEGMENTS {
                re = re.add(V::load(&self.segments_re[m][f]));
                im = im.add(V::load(&self.segments_im[m][f]));
            }
            let p = re.mul_add(re, im.mul(im));
            p.store(&mut power[f]);
            p.sqrt().store(&mut self.amplitude[slot][f]);
        }
        let (sum, sum_sq) = (V::load(&self.sum), V::load(&self.sum_sq));
        let energy = sum_sq
            .sub(sum.mul(sum).mul(V::splat(1.0 / n as f32)))
            .max(V::zero())
            .to_array();
        self.energy[(block % ENERGY_BLOCKS as u64) as usize] = energy;
        self.sum = [0.0; LANES];
        self.sum_sq = [0.0; LANES];
        // Branch-free across lanes: the argmax keeps the first of equal powers, as
        // `strongest_pair` does.
        let to_energy = to_energy(n);
        let mut low = [0u8; LANES];
        let mut high = [0u8; LANES];
        let mut pass = [false; LANES];
        for lane in 0..LANES {
            let strongest = |filters: std::ops::Range<usize>| {
                let first = filters.start;
                let (mut best, mut at) = (power[first][lane], first as u8);
                for f in filters.skip(1) {
                    let p = power[f][lane];
                    (best, at) = if p > best { (p, f as u8) } else { (best, at) };
                }
                (best, at)
            };
            let (low_power, l) = strongest(0..4);
            let (high_power, h) = strongest(4..FILTERS);
            (low[lane], high[lane]) = (l, h);
            pass[lane] = passes(low_power, high_power, energy[lane], to_energy, limits);
        }
        let possible = pass
            .iter()
            .enumerate()
            .fold(0u32, |mask, (lane, &p)| mask | (u32::from(p) << lane));
        Screen {
            low,
            high,
            possible,
        }
    }
}

/// Feeds `frames` (interleaved, `channels` samples each; whole frames inside one segment) to
/// every group, writing their rows from `first_row` of each group's block rows.
pub(crate) struct Feed<'a> {
    pub(crate) groups: &'a mut [LaneGroup],
    pub(crate) frames: &'a [i16],
    pub(crate) channels: usize,
    pub(crate) first_row: usize,
    /// The frames the next call will feed (empty if unknown): prefetched while these run.
    pub(crate) ahead: &'a [i16],
    /// Whether these frames start a segment: the states start from zero, not from memory.
    pub(crate) starts: bool,
    /// The segment these frames end, if they end one: it is finished from the states while
    /// they are in registers, and the states are not stored.
    pub(crate) finishes: Option<usize>,
    pub(crate) coeffs: &'a Coefficients,
}

impl Feed<'_> {
    #[inline(always)]
    pub(crate) fn run<V: F32x16>(self) {
        let rows = self.frames.len() / self.channels;
        // Each group reads its lanes frame by frame, a stride the hardware prefetchers follow
        // poorly: the frames of the next call are asked for explicitly, a share per group.
        let share = self
            .ahead
            .len()
            .div_ceil(self.groups.len().max(1))
            .next_multiple_of(32);
        let mut ahead = self.ahead.chunks(share.max(32));
        let k: [V; FILTERS] = std::array::from_fn(|f| V::splat(self.coeffs.feedback[f]));
        for (g, group) in self.groups.iter_mut().enumerate() {
            prefetch(ahead.next().unwrap_or_default());
            let history = &mut group.rows[self.first_row..self.first_row + rows];
            let base = g * LANES;
            let frames = self.frames.chunks_exact(self.channels);
            let mut acc = Sums {
                sum: V::load(&group.sum),
                sum_sq: V::load(&group.sum_sq),
            };
            if V::WIDE {
                let (mut s1, mut s2): ([V; FILTERS], [V; FILTERS]) = if self.starts {
                    ([V::zero(); FILTERS], [V::zero(); FILTERS])
                } else {
                    (
                        std::array::from_fn(|f| V::load(&group.s1[f])),
                        std::array::from_fn(|f| V::load(&group.s2[f])),
                    )
                };
                let channels = self.channels;
                let src = self.frames;
                if base + LANES <= channels {
                    // A full group: its lanes are one 32-byte run of every frame.
                    recur(history, &k, &mut s1, &mut s2, &mut acc, |i, row| {
                        let at = i * channels + base;
                        if let Some(lanes) = src.get(at..at + LANES) {
                            row.copy_from_slice(lanes);
                        }
                        V::from_i16(row)
                    });
                } else {
                    // The last, partial group: padded copies, a separate instance of the loop
                    // so that the copy's call stays out of the full groups' loop.
                    recur(history, &k, &mut s1, &mut s2, &mut acc, |i, row| {
                        let frame = src.get(i * channels..(i + 1) * channels);
                        gather(frame.unwrap_or_default(), base, row);
                        V::from_i16(row)
                    });
                }
                match self.finishes {
                    Some(m) => group.finish_from::<V>(self.coeffs, m, &s1, &s2),
                    None => {
                        for f in 0..FILTERS {
                            s1[f].store(&mut group.s1[f]);
                            s2[f].store(&mut group.s2[f]);
                        }
                    }
                }
            } else {
                for (frame, row) in frames.zip(history.iter_mut()) {
                    gather(frame, base, row);
                    acc.add(V::from_i16(row));
                }
                for first in (0..FILTERS).step_by(NARROW_PASS) {
                    let k: [V; NARROW_PASS] = std::array::from_fn(|f| k[first + f]);
                    let mut s1: [V; NARROW_PASS] =
                        std::array::from_fn(|f| V::load(&group.s1[first + f]));
                    let mut s2: [V; NARROW_PASS] =
                        std::array::from_fn(|f| V::load(&group.s2[first + f]));
                    for row in history.iter() {
                        step(V::from_i16(row), &k, &mut s1, &mut s2);
                    }
                    for f in 0..NARROW_PASS {
                        s1[f].store(&mut group.s1[first + f]);
                        s2[f].store(&mut group.s2[first + f]);
                    }
                }
                if let Some(m) = self.finishes {
                    group.finish_segment::<V>(self.coeffs, m);
                }
            }
            acc.sum.store(&mut group.sum);
            acc.sum_sq.store(&mut group.sum_sq);
        }
    }
}

/// A group's running sums of samples and squared samples.
struct Sums<V> {
    sum: V,
    sum_sq: V,
}

impl<V: F32x16> Sums<V> {
    #[inline(always)]
    fn add(&mut self, x: V) {
        self.sum = self.sum.add(x);
        self.sum_sq = x.mul_add(x, self.sum_sq);
    }
}

/// Runs all filters over `rows.len()` frames; `row_at(i, row)` fills `row` with frame `i`'s
/// lanes and returns them as a vector. Two frames per turn, the states trading roles (see
/// [`step_pair`]), so that no register moves sit between the steps.
#[inline(always)]
fn recur<V: F32x16>(
    rows: &mut [[i16; LANES]],
    k: &[V; FILTERS],
    s1: &mut [V; FILTERS],
    s2: &mut [V; FILTERS],
    acc: &mut Sums<V>,
    mut row_at: impl FnMut(usize, &mut [i16; LANES]) -> V,
) {
    let mut pairs = rows.chunks_exact_mut(2);
    let mut i = 0;
    for pair in &mut pairs {
        let [r0, r1] = pair else { break };
        let x0 = row_at(i, r0);
        let x1 = row_at(i + 1, r1);
        acc.add(x0);
        acc.add(x1);
        step_pair(x0, x1, k, s1, s2);
        i += 2;
    }
    if let [r] = pairs.into_remainder() {
        let x = row_at(i, r);
        acc.add(x);
        step(x, k, s1, s2);
    }
}

/// Copies this group's lanes of one frame into `row`, zero-padding a partial last group.
#[inline(always)]
fn gather(frame: &[i16], base: usize, row: &mut [i16; LANES]) {
    if let Some(lanes) = frame.get(base..base + LANES) {
        row.copy_from_slice(lanes);
    } else {
        *row = [0; LANES];
        let present = frame.get(base..).unwrap_or_default();
        row[..present.len()].copy_from_slice(present);
    }
}

/// Two Goertzel steps of `K` filters across the lanes: the first writes `y[n]` over `s2`, the
/// second `y[n+1]` over `s1`, so the states end where [`step`] leaves them without moving.
#[inline(always)]
fn step_pair<V: F32x16, const K: usize>(
    x0: V,
    x1: V,
    k: &[V; K],
    s1: &mut [V; K],
    s2: &mut [V; K],
) {
    for f in 0..K {
        s2[f] = k[f].mul_add(s1[f], x0.sub(s2[f]));
    }
    for f in 0..K {
        s1[f] = k[f].mul_add(s2[f], x1.sub(s1[f]));
    }
}

/// One Goertzel step of `K` filters across the lanes.
#[inline(always)]
fn step<V: F32x16, const K: usize>(x: V, k: &[V; K], s1: &mut [V; K], s2: &mut [V; K]) {
    for f in 0..K {
        // `x − s2` is off the dependency chain: one multiply-add on it.
        let s0 = k[f].mul_add(s1[f], x.sub(s2[f]));
        s2[f] = s1[f];
        s1[f] = s0;
    }
}
