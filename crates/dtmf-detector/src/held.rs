//! The bank's held digits in vector form.
//!
//! Once a lane's digit is confirmed, most of its blocks only continue it (the strongest pair is
//! the digit's and passes the cheap tests) or miss it without ending it. Those blocks change a
//! few numbers of the tracker's [`Held`] and nothing else; visiting each such lane in scalar
//! code cost about as much as the rest of a digit's blocks together, mostly in mispredicted
//! branches. So while a lane's tracker only holds a digit, [`HeldLanes`] keeps those numbers
//! across the group's lanes and updates them for every lane at once after the screen, with the
//! tracker's arithmetic ([`Held::hit`], [`Held::miss`]). Any other block (another pair, the
//! miss that ends the digit) puts them back into the tracker first, and the lane is visited as
//! before: the events are the same, block for block.
//!
//! [`Held::hit`]: crate::tracker::Held
//! [`Held::miss`]: crate::tracker::Held

use crate::lanes::{FilterLanes, LANES, Lanes, Screen};
use crate::tracker::{Held, MISSES_TO_END};

/// Per lane, the fields a block changes of a held digit, for the lanes in `mask`.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeldLanes {
    /// Lanes whose held digit lives here; their trackers' copies are stale.
    pub(crate) mask: u32,
    low: [u8; LANES],
    high: [u8; LANES],
    misses: [u8; LANES],
    last_hit_end: [u64; LANES],
    last_hit_amplitude: Lanes,
    reference: Lanes,
    tail_amplitude: Lanes,
}

impl HeldLanes {
    /// Takes over `held`'s changing fields for `lane`.
    pub(crate) fn check_out(&mut self, lane: usize, held: &Held) {
        // Filter indices are below eight.
        self.low[lane] = held.low as u8;
        self.high[lane] = held.high as u8;
        self.misses[lane] = held.misses;
        self.last_hit_end[lane] = held.last_hit_end;
        self.last_hit_amplitude[lane] = held.last_hit_amplitude;
        self.reference[lane] = held.reference;
        self.tail_amplitude[lane] = held.tail_amplitude;
        self.mask |= 1 << lane;
    }

    /// Gives `lane`'s fields back to its tracker's `held`.
    pub(crate) fn check_in(&mut self, lane: usize, held: &mut Held) {
        held.misses = self.misses[lane];
        held.last_hit_end = self.last_hit_end[lane];
        held.last_hit_amplitude = self.last_hit_amplitude[lane];
        held.reference = self.reference[lane];
        held.tail_amplitude = self.tail_amplitude[lane];
        self.drop_lane(lane);
    }

    /// Forgets `lane` (its call ended).
    pub(crate) fn drop_lane(&mut self, lane: usize) {
        self.mask &= !(1 << lane);
    }

    /// One block ending at `block_end` for every lane held here: `screen` is the block's
    /// screen and `amplitude` its bin amplitudes. Returns the lanes it hit or missed without
    /// ending the digit; the others held here need their tracker.
    #[inline(always)]
    pub(crate) fn advance(
        &mut self,
        screen: &Screen,
        amplitude: &FilterLanes,
        block_end: u64,
    ) -> u32 {
        if self.mask == 0 {
            return 0;
        }
        let mut handled = 0u32;
        for lane in 0..LANES {
            let held = (self.mask >> lane) & 1 != 0;
            let possible = (screen.possible >> lane) & 1 != 0;
            let (low, high) = (self.low[lane], self.high[lane]);
            // The pair's amplitude, chosen branch-free among the group's filters.
            let mut low_amplitude = amplitude[0][lane];
            let mut high_amplitude = amplitude[4][lane];
            for f in 1..4 {
                if usize::from(low) == f {
                    low_amplitude = amplitude[f][lane];
                }
                if usize::from(high) == f + 4 {
                    high_amplitude = amplitude[f + 4][lane];
                }
            }
            let pair = low_amplitude + high_amplitude;
            let misses = self.misses[lane];
            let hit = held & possible & (screen.low[lane] == low) & (screen.high[lane] == high);
            let miss = held & !possible & (misses + 1 < MISSES_TO_END);
            // `Held::hit`
            if hit {
                self.misses[lane] = 0;
                self.last_hit_end[lane] = block_end;
                self.last_hit_amplitude[lane] = pair;
                self.reference[lane] = self.reference[lane].max(pair);
            }
            // `Held::miss`
            if miss {
                if misses == 0 {
                    self.tail_amplitude[lane] = pair;
                }
                self.misses[lane] = misses + 1;
            }
            handled |= u32::from(hit | miss) << lane;
        }
        handled
    }
}
