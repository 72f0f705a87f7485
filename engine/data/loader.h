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

models::Batch make_batch(const Dataset& ds, const std::vector<int64_t>& cells, int split, DType dtype, Device device);

}  // namespace gpo::data
