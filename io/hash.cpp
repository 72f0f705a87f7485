// Content hash (see hash.h): four independent multiply-rotate lanes over 8-byte little-endian words (so the CPU
// overlaps them), finished with a murmur-style avalanche of the lanes and the length.
#include "io/hash.h"

#include <cstring>

namespace gpo::io {

namespace {
constexpr uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t load64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian whatever the host
    return v;
}
inline uint64_t avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}
}  // namespace

Hasher::Hasher(uint64_t seed) {
    lanes_[0] = seed + P1 + P2;
    lanes_[1] = seed + P2;
    lanes_[2] = seed;
    lanes_[3] = seed - P1;
}

void Hasher::mix(uint64_t w) {
    uint64_t& l = lanes_[lane_];
    l = rotl(l + w * P2, 31) * P1;
    lane_ = (lane_ + 1) & 3;
}

void Hasher::update(const void* data, size_t bytes) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    total_ += bytes;
    if (tail_len_) {  // finish a partial word first
        const size_t take = bytes < 8 - tail_len_ ? bytes : 8 - tail_len_;
        std::memcpy(tail_ + tail_len_, p, take);
        tail_len_ += take;
        p += take;
        bytes -= take;
        if (tail_len_ < 8) return;
        mix(load64(tail_));
        tail_len_ = 0;
    }
    for (; bytes >= 8; bytes -= 8, p += 8) mix(load64(p));
    if (bytes) {
        std::memcpy(tail_, p, bytes);
        tail_len_ = bytes;
    }
}

void Hasher::update_string(const std::string& s) {
    uint64_t n = s.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = (unsigned char)(n >> (8 * i));
    update(len, 8);
    update(s.data(), s.size());
}

uint64_t Hasher::digest() const {
    uint64_t h = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
    for (size_t i = 0; i < tail_len_; ++i) h = rotl(h ^ (tail_[i] * P3), 11) * P1;
    h ^= total_ * P3;
    return avalanche(h);
}

std::string hash_hex(uint64_t h) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[i] = digits[h & 15];
    return s;
}

std::string Hasher::hex() const { return hash_hex(digest()); }

uint64_t hash_bytes(const void* data, size_t bytes, uint64_t seed) {
    Hasher h(seed);
    h.update(data, bytes);
    return h.digest();
}

}  // namespace gpo::io
