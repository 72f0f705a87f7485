// Atomic file output: write to "<path>.tmp", flush, then rename over <path>, so a failure never leaves a
// half-written file at the destination.
#pragma once
#include <functional>
#include <string>

namespace gpo::io {

void write_file_atomic(const std::string& path, const std::string& contents);
// Calls write(tmp_path) and renames tmp_path to path on success; removes tmp_path when write throws.
void with_atomic_path(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

}  // namespace gpo::io
