// Row-major CSR count matrices that are held in memory or, when larger than the memory budget
// (preprocess.counts_in_memory_mb, docs/config.md), left in a file and read row by row with pread: the preprocessing
// cache, or an unlinked spill file while preprocessing. Readers go through Csr::row, never through the arrays, so
// every stage works the same on both; the page cache, not the process, holds a file-backed matrix.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gpo::data {

// The entries of one row: n column indices (ascending) and their values. Valid until the buffer it was read into
// is used again.
struct CsrRow {
    const int32_t* idx = nullptr;
    const float* val = nullptr;
    int64_t n = 0;
};

// Where a row read from a file lands; one per reader (thread).
struct RowBuffer {
    std::vector<int32_t> idx;
    std::vector<float> val;
};

// The index and value arrays of a CSR matrix in files: indices (int32) at byte `indices_at` of the file open as
// `indices_fd`, values (float32) at `values_at` of `values_fd` (the same file twice for a cache, two unlinked spill
// files while preprocessing), both nnz long. Owns the descriptors: closes them when the last matrix using it goes.
class CsrFile {
  public:
    CsrFile(std::string path, int indices_fd, uint64_t indices_at, int values_fd, uint64_t values_at);
    ~CsrFile();
    // Opens `path` twice for reading (throws naming it when it cannot).
    static std::shared_ptr<const CsrFile> open(const std::string& path, uint64_t indices_at, uint64_t values_at);
    CsrFile(const CsrFile&) = delete;
    CsrFile& operator=(const CsrFile&) = delete;
    // Reads entries [k0, k0 + n) into idx / val; throws naming the file on a short read.
    void read(int64_t k0, int64_t n, int32_t* idx, float* val) const;
    // Asks the kernel to start reading entries [k0, k0 + n) in the background (posix_fadvise WILLNEED); a hint.
    void will_need(int64_t k0, int64_t n) const;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    int indices_fd_ = -1, values_fd_ = -1;
    uint64_t indices_at_ = 0, values_at_ = 0;
};

struct Csr {
    int64_t rows = 0, cols = 0;
    std::vector<int64_t> indptr{0};
    std::vector<int32_t> indices;            // empty when `file` is set
    std::vector<float> data;                 // empty when `file` is set
    std::shared_ptr<const CsrFile> file;     // the arrays' place when the matrix is not in memory

    bool on_disk() const { return (bool)file; }
    int64_t nnz() const { return indptr.empty() ? 0 : indptr.back(); }
    // Row r: pointers into the arrays in memory, or the row read from the file into `buf`.
    CsrRow row(int64_t r, RowBuffer& buf) const;
    // The read-ahead of a file-backed matrix: the kernel starts reading these rows while the caller computes (a
    // no-op in memory). The trainer calls it for the next batch's rows, so at most one batch is read ahead.
    void will_need(const std::vector<int64_t>& rows) const;
    double row_sum(int64_t r) const;
    // Calls fn(first_row, rows, k0, idx, val) over consecutive row blocks of at most ~`entries` entries (at least
    // one row each), in order, where idx[k - k0] and val[k - k0] are entry k (k0 = indptr[first_row]): a streaming
    // pass that never holds more than one block of a file-backed matrix.
    template <class Fn>
    void for_each_block(int64_t entries, Fn&& fn) const;
    // Bytes of the index and value arrays (what counts_in_memory_mb bounds).
    static uint64_t array_bytes(int64_t nnz) { return (uint64_t)nnz * (sizeof(int32_t) + sizeof(float)); }
};

// Builds a Csr row by row. Rows stay in memory until the arrays pass `budget_bytes`; from then on everything
// written so far and every later row go to an unlinked temporary file in `spill_dir` (removed by the system when
// the matrix is released, also after a crash), so memory stays bounded by the budget.
class CsrBuilder {
  public:
    CsrBuilder(int64_t cols, uint64_t budget_bytes, std::string spill_dir, std::string what);
    ~CsrBuilder();
    CsrBuilder(const CsrBuilder&) = delete;
    CsrBuilder& operator=(const CsrBuilder&) = delete;
    void add_row(const int32_t* idx, const float* val, int64_t n);
    Csr finish();  // the matrix; the builder is empty afterwards

  private:
    void spill();
    void flush();
    int64_t cols_;
    uint64_t budget_;
    std::string dir_, what_;
    std::vector<int64_t> indptr_{0};
    std::vector<int32_t> idx_;
    std::vector<float> val_;
    int idx_fd_ = -1, val_fd_ = -1;  // two unlinked spill files (indices, values) once spilled
};

// The directory for spill files: $TMPDIR, else /tmp.
std::string default_spill_dir();

template <class Fn>
void Csr::for_each_block(int64_t entries, Fn&& fn) const {
    RowBuffer buf;
    for (int64_t r0 = 0; r0 < rows;) {
        int64_t r1 = r0 + 1;
        while (r1 < rows && indptr[r1 + 1] - indptr[r0] <= entries) ++r1;
        const int64_t k0 = indptr[r0], n = indptr[r1] - k0;
        if (file) {
            buf.idx.resize((size_t)n);
            buf.val.resize((size_t)n);
            file->read(k0, n, buf.idx.data(), buf.val.data());
            fn(r0, r1 - r0, k0, (const int32_t*)buf.idx.data(), (const float*)buf.val.data());
        } else {
            fn(r0, r1 - r0, k0, indices.data() + k0, data.data() + k0);
        }
        r0 = r1;
    }
}

}  // namespace gpo::data
