// Atomic file output (see atomic_file.h).
#include "io/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/check.h"

namespace gpo::io {

void with_atomic_path(const std::string& path, const std::function<void(const std::string&)>& write) {
    std::string tmp = path + ".tmp";
    try {
        write(tmp);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        GPO_FAIL(path << ": cannot move the finished file into place: " << std::strerror(err));
    }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    with_atomic_path(path, [&](const std::string& tmp) {
        std::ofstream f(tmp, std::ios::binary);
        GPO_CHECK(f, tmp << ": cannot open for writing");
        f << contents;
        f.flush();
        GPO_CHECK(f, tmp << ": write failed");
    });
}

}  // namespace gpo::io
