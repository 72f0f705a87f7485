// A fast 64-bit content hash for integrity checks (checkpoint tensors, the preprocessing cache payload, input file
// identity). Not cryptographic: it detects corruption and accidental change, not tampering. Streaming: feed bytes
// in any chunking and the digest is the same.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gpo::io {

class Hasher {
  public:
    explicit Hasher(uint64_t seed = 0);
    void update(const void* data, size_t bytes);
    void update_string(const std::string& s);  // length-prefixed, so {"ab","c"} and {"a","bc"} differ
    uint64_t digest() const;
    std::string hex() const;  // 16 lowercase hex digits

  private:
    void mix(uint64_t word);
    uint64_t lanes_[4];
    uint64_t total_ = 0;       // bytes fed
    unsigned char tail_[8];    // bytes not yet forming a whole 8-byte word
    size_t tail_len_ = 0;
    size_t lane_ = 0;
};

uint64_t hash_bytes(const void* data, size_t bytes, uint64_t seed = 0);
std::string hash_hex(uint64_t h);

}  // namespace gpo::io
