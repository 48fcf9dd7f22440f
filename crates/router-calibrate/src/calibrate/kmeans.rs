//! Spherical k-means with k-means++ seeding from a fixed seed (step 2).

use super::*;

/// Spherical k-means with k-means++ seeding from a fixed seed. Returns each vector's cluster and
/// the unit centroids (pruned to their 512 largest slots).
pub(super) fn kmeans(
    vectors: &[SparseVector],
    k: usize,
    bits: u8,
    rounds: usize,
) -> (Vec<usize>, Vec<SparseVector>) {
    let n = vectors.len();
    let n_slots = 1usize << bits;
    let dense_dot = |v: &SparseVector, dense: &[f32]| -> f32 {
        v.entries()
            .iter()
            .map(|&(slot, w)| w * dense[slot as usize])
            .sum()
    };
    let to_dense = |v: &SparseVector| {
        let mut dense = vec![0.0f32; n_slots];
        for &(slot, w) in v.entries() {
            dense[slot as usize] = w;
        }
        dense
    };
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut centroids: Vec<Vec<f32>> = Vec::with_capacity(k);
    centroids.push(to_dense(&vectors[(rng.next() % n as u64) as usize]));
    let mut distance: Vec<f64> = vectors
        .iter()
        .map(|v| f64::from((1.0 - dense_dot(v, &centroids[0])).max(0.0)))
        .collect();
    while centroids.len() < k {
        let total: f64 = distance.iter().sum();
        let pick = if total <= 0.0 {
            (rng.next() % n as u64) as usize
        } else {
            let mut target = rng.unit() * total;
            let mut chosen = n - 1;
            for (idx, d) in distance.iter().enumerate() {
                target -= d;
                if target <= 0.0 {
                    chosen = idx;
                    break;
                }
            }
            chosen
        };
        let centroid = to_dense(&vectors[pick]);
        for (d, v) in distance.iter_mut().zip(vectors) {
            *d = d.min(f64::from((1.0 - dense_dot(v, &centroid)).max(0.0)));
        }
        centroids.push(centroid);
    }
    let mut assignment = vec![usize::MAX; n];
    // Slot-major copy of the centroids, so each feature of a vector reads its `k` weights from
    // one cache line or a few, instead of one line per centroid.
    let mut by_slot = vec![0.0f32; n_slots * k];
    let mut similarities = vec![0.0f32; k];
    for _ in 0..rounds {
        for (c, centroid) in centroids.iter().enumerate() {
            for (slot, w) in centroid.iter().enumerate() {
                by_slot[slot * k + c] = *w;
            }
        }
        let mut changed = false;
        for (idx, v) in vectors.iter().enumerate() {
            similarities.fill(0.0);
            for &(slot, w) in v.entries() {
                let row = &by_slot[slot as usize * k..(slot as usize + 1) * k];
                for (sum, c) in similarities.iter_mut().zip(row) {
                    *sum += w * c;
                }
            }
            let best = (0..k)
                .max_by(|a, b| similarities[*a].total_cmp(&similarities[*b]).then(b.cmp(a)))
                .unwrap_or(0);
            if assignment[idx] != best {
                assignment[idx] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut counts = vec![0usize; k];
        let mut sums = vec![vec![0.0f32; n_slots]; k];
        for (idx, v) in vectors.iter().enumerate() {
            counts[assignment[idx]] += 1;
            for &(slot, w) in v.entries() {
                sums[assignment[idx]][slot as usize] += w;
            }
        }
        for (cluster, mut sum) in sums.into_iter().enumerate() {
            if counts[cluster] == 0 {
                continue;
            }
            let norm = sum.iter().map(|w| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                sum.iter_mut().for_each(|w| *w /= norm);
            }
            centroids[cluster] = sum;
        }
    }
    let centroids = centroids
        .into_iter()
        .map(|dense| {
            let pairs = dense
                .iter()
                .enumerate()
                .filter(|it| *it.1 != 0.0)
                .map(|(slot, w)| (slot as u32, *w))
                .collect();
            let mut centroid = SparseVector::from_pairs(pairs);
            centroid.prune(512);
            centroid.normalize();
            let rounded = centroid
                .entries()
                .iter()
                .map(|&(s, w)| (s, round6(w)))
                .collect();
            SparseVector::from_pairs(rounded)
        })
        .collect();
    (assignment, centroids)
}

/// A tiny deterministic generator for k-means++ seeding.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
