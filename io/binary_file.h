// Little binary serialisation for caches, streamed to and from a file (never the whole file in memory):
// length-prefixed vectors of plain values and strings, with every read bounds-checked against the file size (a
// truncated or foreign file is an error naming it, never a crash or a huge allocation).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/check.h"

namespace gpo::io {

class BinaryWriter {
  public:
    explicit BinaryWriter(const std::string& path) : path_(path), out_(path, std::ios::binary) {
        GPO_CHECK(out_, path << ": cannot open for writing");
    }
    template <class T>
    void pod(const T& v) {
        static_assert(std::is_trivially_copyable<T>::value, "pod needs a plain value");
        write(&v, sizeof(T));
    }
    template <class T>
    void vec(const std::vector<T>& v) {
        static_assert(std::is_trivially_copyable<T>::value, "vec needs plain values");
        pod<uint64_t>(v.size());
        write(v.data(), v.size() * sizeof(T));
    }
    void str(const std::string& s) {
        pod<uint64_t>(s.size());
        write(s.data(), s.size());
    }
    void strs(const std::vector<std::string>& v) {
        pod<uint64_t>(v.size());
        for (const auto& s : v) str(s);
    }
    void finish() {  // flushes; throws when any write failed (disk full, ...)
        out_.flush();
        GPO_CHECK(out_, path_ << ": write failed");
    }

  private:
    void write(const void* p, size_t n) {
        if (n) out_.write(static_cast<const char*>(p), (std::streamsize)n);
    }
    std::string path_;
    std::ofstream out_;
};

class BinaryReader {
  public:
    explicit BinaryReader(const std::string& path) : path_(path), in_(path, std::ios::binary | std::ios::ate) {
        if (in_) {
            size_ = (uint64_t)in_.tellg();
            in_.seekg(0);
        }
    }
    bool is_open() const { return (bool)in_; }
    template <class T>
    T pod() {
        T v;
        read(&v, sizeof(T));
        return v;
    }
    template <class T>
    std::vector<T> vec() {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= (size_ - pos_) / sizeof(T), path_ << ": corrupt file (a vector of " << n
                                                         << " elements exceeds the data)");
        std::vector<T> v(n);
        read(v.data(), n * sizeof(T));
        return v;
    }
    std::string str() {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= size_ - pos_, path_ << ": truncated file (a string of " << n << " bytes at offset " << pos_ << ")");
        std::string s(n, '\0');
        read(s.data(), n);
        return s;
    }
    std::vector<std::string> strs() {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= size_ - pos_, path_ << ": corrupt file (string list too long)");
        std::vector<std::string> v;
        v.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.push_back(str());
        return v;
    }
    bool at_end() const { return pos_ == size_; }

  private:
    void read(void* p, uint64_t n) {
        GPO_CHECK(n <= size_ - pos_, path_ << ": truncated file (needs " << n << " more bytes at offset " << pos_ << ")");
        if (n) in_.read(static_cast<char*>(p), (std::streamsize)n);
        GPO_CHECK(in_, path_ << ": read failed at offset " << pos_);
        pos_ += n;
    }
    std::string path_;
    std::ifstream in_;
    uint64_t size_ = 0, pos_ = 0;
};

}  // namespace gpo::io
