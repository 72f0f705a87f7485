// Atomic file output: write to "<path>.tmp", flush, then rename over <path>, so a failure never leaves a
// half-written file at the destination. While a temporary file is being written it is registered, so that an
// interrupt (SIGINT/SIGTERM, with install_interrupt_cleanup()) removes it before the process dies.
#pragma once
#include <functional>
#include <string>

namespace gpo::io {

void write_file_atomic(const std::string& path, const std::string& contents);
// Calls write(tmp_path) and renames tmp_path to path on success; removes tmp_path when write throws.
void with_atomic_path(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Installs SIGINT/SIGTERM handlers that unlink every temporary file being written, then let the signal end the
// process as it would have (exit status 128 + signal in a shell). The command line installs it for every command;
// train replaces it with its own checkpoint-and-stop handler while its loop runs.
void install_interrupt_cleanup();

}  // namespace gpo::io
