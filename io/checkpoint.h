// Training checkpoints: one self-describing file holding the parameters, the Adam state, the step/epoch/RNG
// position, the best validation loss and the full run config, written atomically (temp file + rename), identical
// whichever device wrote it, so CPU and CUDA builds read each other's files.
//
// File layout: a valid safetensors file (https://github.com/huggingface/safetensors):
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8 + N)    JSON header, padded with spaces to a multiple of 8 bytes:
//                         { "__metadata__": { string: string, ... },
//                           "<tensor name>": {"dtype": "F32"|"F64"|"I32", "shape": [...],
//                                             "data_offsets": [begin, end]}, ... }
//   bytes [8 + N, EOF)  raw little-endian tensor data; offsets are relative to 8 + N, the tensors are contiguous
//                       and cover the data section exactly (no gaps, nothing after the last one).
// Tensors: "param/<name>" for every ParamStore entry, in store order, in the parameters' dtype; with Adam,
// "optim/exp_avg" and "optim/exp_avg_sq" (flat, the store's numel). Metadata (all values are strings, as
// safetensors requires):
//   "format": "gpo-engine-checkpoint", "version": "1", "writer": "gpo-engine <git sha>",
//   "config": the run config (JSON text), "rng": the training RNG state (JSON text),
//   "step", "epoch": decimal integers, "best_val_loss": "%.17g" (exact round trip; "inf" when none yet),
//   "optim_step": Adam's step count (present only with Adam state),
//   "checksums": JSON text {tensor name: 16 hex digits of io::Hasher over its bytes} (version 2),
//   "dataset_identity": io::Hasher digest of the gene and treatment names the model was trained on ("" = none),
//   plus the caller's `extra` fields.
// Loading verifies every checksum and refuses non-finite parameter values, naming the tensor.
// Python: safetensors.numpy.load_file(path) gives the tensors; safe_open(path, "np").metadata() the rest.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/optim.h"
#include "engine/params.h"

namespace gpo::io {

constexpr const char* kCheckpointFormat = "gpo-engine-checkpoint";
constexpr int kCheckpointVersion = 2;

struct CheckpointMeta {
    nlohmann::json config;  // the full run config
    int64_t step = 0;       // optimizer steps taken by the trainer
    int64_t epoch = 0;
    nlohmann::json rng;  // training RNG state (e.g. {"seed": .., "stream": .., "counter": ..})
    double best_val_loss = std::numeric_limits<double>::infinity();
    std::string dataset_identity;  // data::dataset_identity() of the training data; checked by the loaders
    // Caller-defined string fields; keys must not collide with the reserved metadata keys above.
    std::map<std::string, std::string> extra;
};

// Writes `path` atomically (an existing file is replaced only once the new one is complete). `ps` must be
// finalized (any device); `adam` may be null (no optimizer state stored).
void checkpoint_save(const std::string& path, const ParamStore& ps, const Adam* adam, const CheckpointMeta& meta);

// The metadata without reading the tensor data (for evaluate/inspect). Validates the header and the file size.
CheckpointMeta checkpoint_read_meta(const std::string& path);

// Loads the values into an already declared and finalized ParamStore (any device): the stored parameter names,
// shapes and dtypes must match the store exactly (an error names the first mismatch with both shapes). When `adam`
// is not null its exp_avg/exp_avg_sq and step count are loaded too (an error when the file has no Adam state).
// Nothing is modified when an error is thrown.
CheckpointMeta checkpoint_load(const std::string& path, ParamStore& ps, Adam* adam);

}  // namespace gpo::io
