// Little binary serialisation for caches, streamed to and from a file (never the whole file in memory):
// length-prefixed vectors of plain values and strings, with every read bounds-checked against the file size (a
// truncated or foreign file is an error naming it, never a crash or a huge allocation). The writer appends an
// 8-byte io::Hasher digest of everything it wrote; the reader checks it in one streaming pass before the first
// value is handed out, so a damaged payload is refused as a whole ("checksum mismatch"), never half-used.
#pragma once
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/check.h"
#include "io/hash.h"

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
    // The elements of a vector written in pieces: its length, then n_total elements over calls to array().
    template <class T>
    void array(const T* p, size_t n) {
        static_assert(std::is_trivially_copyable<T>::value, "array needs plain values");
        write(p, n * sizeof(T));
    }
    void str(const std::string& s) {
        pod<uint64_t>(s.size());
        write(s.data(), s.size());
    }
    void strs(const std::vector<std::string>& v) {
        pod<uint64_t>(v.size());
        for (const auto& s : v) str(s);
    }
    void finish() {  // appends the checksum and flushes; throws when any write failed (disk full, ...)
        unsigned char d[8];
        uint64_t h = hash_.digest();
        for (int i = 0; i < 8; ++i) d[i] = (unsigned char)(h >> (8 * i));
        out_.write(reinterpret_cast<const char*>(d), 8);
        out_.flush();
        GPO_CHECK(out_, path_ << ": write failed");
    }

  private:
    void write(const void* p, size_t n) {
        if (!n) return;
        out_.write(static_cast<const char*>(p), (std::streamsize)n);
        hash_.update(p, n);
    }
    std::string path_;
    std::ofstream out_;
    Hasher hash_;
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
    // Checks the trailing checksum over the whole payload (one streaming pass), then rewinds; the trailer is not
    // part of the readable data afterwards. Throws naming the file on a mismatch or a file too short for one.
    void verify_checksum() {
        GPO_CHECK(size_ >= 8, path_ << ": corrupt file (too short for its checksum)");
        const uint64_t payload = size_ - 8;
        Hasher h;
        std::vector<char> buf(1 << 20);
        in_.seekg(0);
        for (uint64_t done = 0; done < payload;) {
            const uint64_t n = std::min<uint64_t>(buf.size(), payload - done);
            in_.read(buf.data(), (std::streamsize)n);
            GPO_CHECK(in_, path_ << ": read failed at offset " << done);
            h.update(buf.data(), n);
            done += n;
        }
        unsigned char d[8];
        in_.read(reinterpret_cast<char*>(d), 8);
        GPO_CHECK(in_, path_ << ": read failed at the checksum");
        uint64_t stored = 0;
        for (int i = 7; i >= 0; --i) stored = (stored << 8) | d[i];
        GPO_CHECK(stored == h.digest(), path_ << ": corrupt file (checksum mismatch: the file was damaged after it "
                                                 "was written)");
        in_.seekg(0);
        size_ = payload;
        pos_ = 0;
    }
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
    // Skips a vector written by vec() without reading it: returns its element count and sets `at` to the byte
    // offset of its first element in the file (for reading it later with pread).
    template <class T>
    uint64_t skip_vec(uint64_t& at) {
        uint64_t n = pod<uint64_t>();
        GPO_CHECK(n <= (size_ - pos_) / sizeof(T), path_ << ": corrupt file (a vector of " << n
                                                         << " elements exceeds the data)");
        at = pos_;
        pos_ += n * sizeof(T);
        in_.seekg((std::streamoff)pos_);
        GPO_CHECK(in_, path_ << ": seek failed at offset " << pos_);
        return n;
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
