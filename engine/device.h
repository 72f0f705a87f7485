// Device selection: the lazy GPU probe (any CUDA error means "no GPU") and the --device auto|cpu|cuda choice.
#pragma once
#include <string>

#include "engine/tensor.h"

namespace gpo {

bool cuda_available();  // compiled with CUDA and at least one device answered the probe
// "auto" -> CUDA when available, else CPU (with a message on stderr); "cpu"; "cuda" (throws when unavailable).
Device resolve_device(const std::string& choice);

}  // namespace gpo
