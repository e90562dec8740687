//! `States.MathRandom` on a JVM-compatible random source.

use serde_json::Value;

use super::*;

impl Invocation<'_> {
    pub(super) fn math_random(&self, vals: &[Value]) -> Result<Value, IntrinsicError> {
        let start = self.rounded_int(&vals[0], 1)?;
        let end = self.rounded_int(&vals[1], 2)?;
        if start >= end {
            return Err(self.fail(format!("the start {start} must be less than the end {end}")));
        }
        let bound = end - start;
        let n = match vals.get(2) {
            Some(seed) => {
                let seed = self.rounded_int(seed, 3)?;
                let bound = i32::try_from(bound)
                    .map_err(|_| self.fail("the range between start and end is too large"))?;
                i64::from(JavaRandom::new(seed).next_int(bound))
            }
            None => {
                use rand::RngExt as _;
                rand::rng().random_range(0..bound)
            }
        };
        Ok(Value::from(start + n))
    }
}

/// `java.util.Random`, so a seeded `States.MathRandom` draws what the JVM-based service draws.
pub(super) struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5DEE_CE66D;
    const MASK: i64 = (1 << 48) - 1;

    pub(super) fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    pub(super) fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for a positive bound.
    pub(super) fn next_int(&mut self, bound: i32) -> i32 {
        if bound & bound.wrapping_neg() == bound {
            return ((i64::from(bound) * i64::from(self.next(31))) >> 31) as i32;
        }
        loop {
            let bits = self.next(31);
            let val = bits % bound;
            if bits.wrapping_sub(val).wrapping_add(bound - 1) >= 0 {
                return val;
            }
        }
    }
}
