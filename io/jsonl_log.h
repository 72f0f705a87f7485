// An append-only JSON-lines log (metrics.jsonl) that never loses or tears a line silently: every write is
// flushed and checked (a full disk is an error naming the file), and reopening for a resumed run first repairs
// the file (and a failed write cuts it back to its last whole line) — a torn last line (a kill mid-write) is dropped, and so is every line a caller's predicate rejects
// (the steps after the checkpoint, which the resumed run writes again). The repair is an atomic rewrite.
#pragma once
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace gpo::io {

class JsonlLog {
  public:
    enum class Mode { Truncate, Append };
    // Append: keeps the existing lines for which keep(line) is true (all when keep is empty); a line that is
    // not a complete JSON object is dropped (with a count in dropped_lines()).
    JsonlLog(const std::string& path, Mode mode, const std::function<bool(const nlohmann::json&)>& keep = {});
    void write(const nlohmann::json& line);  // throws naming the file when the line cannot be written whole
    int64_t dropped_lines() const { return dropped_; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    std::ofstream out_;
    int64_t dropped_ = 0;
    uint64_t good_size_ = 0;  // bytes of whole lines in the file
};

}  // namespace gpo::io
