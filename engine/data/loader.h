// Minibatches: seeded shuffling of a split's cells per epoch, and the conversion of a list of cells into a
// models::Batch on the model's device and dtype (counts densified per batch only).
#pragma once
#include <vector>

#include "engine/data/dataset.h"
#include "engine/models/batch.h"

namespace gpo::data {

// The cells of `split` in a seeded random order for `epoch` (Philox stream per epoch), or in file order when
// shuffle is false; cut into batches of batch_size (the last may be smaller; drop_last = false, as the reference).
std::vector<std::vector<int64_t>> epoch_batches(const Dataset& ds, int split, int64_t batch_size, uint64_t seed,
                                                uint64_t epoch, bool shuffle);
// `cells` cut in order into batches of batch_size (the last may be smaller).
std::vector<std::vector<int64_t>> cut_into_batches(const std::vector<int64_t>& cells, int64_t batch_size);

models::Batch make_batch(const Dataset& ds, const std::vector<int64_t>& cells, int split, DType dtype, Device device);
// The read-ahead of a batch whose count matrices are on disk (csr.h): the rows make_batch will read for `cells`
// (their counts, their matched controls' counts, their counterfactual profiles) are requested from the kernel now.
void read_ahead(const Dataset& ds, const std::vector<int64_t>& cells);

// Data-parallel shards of a global batch of B cells over `ranks` ranks: rank r takes rows [lo, hi) with
// lo = ceil(r B / ranks), so rank 0's shard is never empty (it carries the batch-independent terms) and the
// shards tile the batch in order. A shard may be empty when B < ranks.
struct ShardRange {
    int64_t lo = 0, hi = 0;
    bool empty() const { return hi <= lo; }
};
ShardRange shard_range(int64_t B, int rank, int ranks);
// The batch of rows [r.lo, r.hi) of `cells` (non-empty), marked as a shard of the whole (models::Batch::B_total,
// row_offset, the whole batch's QC-fail and counterfactual counts, global_terms on the shard holding row 0).
models::Batch make_shard_batch(const Dataset& ds, const std::vector<int64_t>& cells, ShardRange r, int split,
                               DType dtype, Device device);

}  // namespace gpo::data
