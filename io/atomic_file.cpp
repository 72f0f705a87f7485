// Atomic file output and the interrupt cleanup of temporary files (see atomic_file.h).
#include "io/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/check.h"

namespace gpo::io {

namespace {

// In-flight temporary files, in fixed storage so the signal handler touches no allocator (unlink is
// async-signal-safe). A slot is claimed by writing its path, then publishing it in `used`.
constexpr int kSlots = 32;
constexpr size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
volatile std::sig_atomic_t g_used[kSlots];

int register_temp(const std::string& tmp) {
    if (tmp.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i)
        if (!g_used[i]) {
            std::memcpy(g_paths[i], tmp.c_str(), tmp.size() + 1);
            g_used[i] = 1;
            return i;
        }
    return -1;  // more than kSlots files at once: still written atomically, just not cleaned on an interrupt
}

void unregister_temp(int slot) {
    if (slot >= 0) g_used[slot] = 0;
}

extern "C" void on_interrupt(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (g_used[i]) unlink(g_paths[i]);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

void install_interrupt_cleanup() {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
}

void with_atomic_path(const std::string& path, const std::function<void(const std::string&)>& write) {
    std::string tmp = path + ".tmp";
    const int slot = register_temp(tmp);
    try {
        write(tmp);
    } catch (...) {
        std::remove(tmp.c_str());
        unregister_temp(slot);
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        unregister_temp(slot);
        GPO_FAIL(path << ": cannot move the finished file into place: " << std::strerror(err));
    }
    unregister_temp(slot);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    with_atomic_path(path, [&](const std::string& tmp) {
        std::ofstream f(tmp, std::ios::binary);
        GPO_CHECK(f, tmp << ": cannot open for writing: " << std::strerror(errno));
        f << contents;
        f.flush();
        GPO_CHECK(f, tmp << ": write failed: " << std::strerror(errno));
    });
}

}  // namespace gpo::io
