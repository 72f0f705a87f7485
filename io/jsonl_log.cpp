// JSON-lines log with checked writes and repair on reopen (see jsonl_log.h).
#include "io/jsonl_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "engine/check.h"
#include "io/atomic_file.h"

namespace gpo::io {

JsonlLog::JsonlLog(const std::string& path, Mode mode, const std::function<bool(const nlohmann::json&)>& keep)
    : path_(path) {
    std::error_code ec;
    if (mode == Mode::Append && std::filesystem::exists(path, ec)) {
        std::ifstream in(path, std::ios::binary);
        GPO_CHECK(in, path << ": cannot open for reading: " << std::strerror(errno));
        std::stringstream all;
        all << in.rdbuf();
        const std::string text = all.str();
        std::string kept;
        size_t start = 0;
        bool changed = false;
        while (start < text.size()) {
            size_t nl = text.find('\n', start);
            bool complete = nl != std::string::npos;
            std::string line = text.substr(start, complete ? nl - start : std::string::npos);
            start = complete ? nl + 1 : text.size();
            nlohmann::json j;
            bool ok = complete;
            if (ok) {
                try {
                    j = nlohmann::json::parse(line);
                    ok = j.is_object();
                } catch (const nlohmann::json::exception&) {
                    ok = false;
                }
            }
            if (!ok) ++dropped_;
            if (ok && keep && !keep(j)) ok = false;
            if (ok) kept += line + "\n";
            else changed = true;
        }
        if (changed) write_file_atomic(path, kept);
    }
    out_.open(path, mode == Mode::Truncate ? std::ios::binary | std::ios::trunc : std::ios::binary | std::ios::app);
    GPO_CHECK(out_, path << ": cannot open for writing: " << std::strerror(errno));
    good_size_ = (uint64_t)std::filesystem::file_size(path, ec);
}

void JsonlLog::write(const nlohmann::json& line) {
    const std::string text = line.dump() + "\n";
    out_ << text;
    out_.flush();
    if (!out_) {
        // Cut the file back to its last whole line, so a failure leaves no torn line behind.
        const int err = errno;
        out_.close();
        std::error_code ec;
        std::filesystem::resize_file(path_, good_size_, ec);
        GPO_FAIL(path_ << ": write failed (" << std::strerror(err) << "; disk full?)");
    }
    good_size_ += text.size();
}

}  // namespace gpo::io
