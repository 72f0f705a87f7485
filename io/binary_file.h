// Little binary serialisation for caches: length-prefixed vectors of plain values and strings, with every read
// bounds-checked (a truncated or foreign file is an error naming it, never a crash).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/check.h"

namespace gpo::io {

class BinaryWriter {
  public:
    template <class T>
    void pod(const T& v) {
        static_assert(std::is_trivially_copyable<T>::value, "pod needs a plain value");
        const char* p = reinterpret_cast<const char*>(&v);
        buf_.insert(buf_.end(), p, p + sizeof(T));
    }
    template <class T>
    void vec(const std::vector<T>& v) {
        static_assert(std::is_trivially_copyable<T>::value, "vec needs plain values");
        pod<uint64_t>(v.size());
        const char* p = reinterpret_cast<const char*>(v.data());
        buf_.insert(buf_.end(), p, p + v.size() * sizeof(T));
    }
    void str(const std::string& s) {
        pod<uint64_t>(s.size());
        buf_.insert(buf_.end(), s.begin(), s.end());
    }
    void strs(const std::vector<std::string>& v) {
        pod<uint64_t>(v.size());
        for (const auto& s : v) str(s);
    }
    const std::string& bytes() const { return buf_; }

  private:
    std::string buf_;
};

class BinaryReader {
  public:
    BinaryReader(std::string bytes, std::string source) : buf_(std::move(bytes)), source_(std::move(source)) {}
    template <class T>
    T pod() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, buf_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    template <class T>
    std::vector<T> vec() {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= (buf_.size() - pos_) / sizeof(T), source_ << ": corrupt file (a vector of " << n
                                                                 << " elements exceeds the data)");
        std::vector<T> v(n);
        if (n) std::memcpy(v.data(), buf_.data() + pos_, n * sizeof(T));
        pos_ += n * sizeof(T);
        return v;
    }
    std::string str() {
        uint64_t n = pod<uint64_t>();
        need(n);
        std::string s = buf_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::vector<std::string> strs() {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= buf_.size() - pos_, source_ << ": corrupt file (string list too long)");
        std::vector<std::string> v;
        v.reserve(n);
        for (uint64_t i = 0; i < n; ++i) v.push_back(str());
        return v;
    }
    bool at_end() const { return pos_ == buf_.size(); }

  private:
    void need(uint64_t n) const {
        GPO_CHECK(n <= buf_.size() - pos_, source_ << ": truncated file (needs " << n << " more bytes at offset " << pos_
                                                   << ")");
    }
    std::string buf_, source_;
    size_t pos_ = 0;
};

}  // namespace gpo::io
