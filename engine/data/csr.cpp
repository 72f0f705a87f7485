// In-memory or file-backed CSR matrices and their row-by-row builder (see csr.h).
#include "engine/data/csr.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/check.h"

namespace gpo::data {

namespace {

// Reads exactly `bytes` at `offset` (pread loops over short reads and EINTR).
void pread_all(int fd, void* dst, uint64_t bytes, uint64_t offset, const std::string& path) {
    char* p = static_cast<char*>(dst);
    while (bytes > 0) {
        ssize_t n = ::pread(fd, p, bytes, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        GPO_CHECK(n > 0, path << ": cannot read " << bytes << " bytes at offset " << offset << " ("
                              << (n == 0 ? "the file is shorter than its header says" : std::strerror(errno)) << ")");
        p += n;
        bytes -= (uint64_t)n;
        offset += (uint64_t)n;
    }
}

void write_all(int fd, const void* src, uint64_t bytes, const std::string& what) {
    const char* p = static_cast<const char*>(src);
    while (bytes > 0) {
        ssize_t n = ::write(fd, p, bytes);
        if (n < 0 && errno == EINTR) continue;
        GPO_CHECK(n > 0, what << ": cannot write the spill file (" << (n == 0 ? "no progress" : std::strerror(errno))
                              << "); free disk space under $TMPDIR or raise preprocess.counts_in_memory_mb");
        p += n;
        bytes -= (uint64_t)n;
    }
}

// An anonymous file in dir: created, then unlinked at once, so only the descriptor keeps it.
int temp_file(const std::string& dir, const std::string& what) {
    std::string path = dir + "/gpo-engine-spill-XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    GPO_CHECK(fd >= 0, what << ": cannot create a spill file in " << dir << " (" << std::strerror(errno)
                            << "); set TMPDIR to a writable directory");
    ::unlink(buf.data());
    return fd;
}

}  // namespace

CsrFile::CsrFile(std::string path, int indices_fd, uint64_t indices_at, int values_fd, uint64_t values_at)
    : path_(std::move(path)), indices_fd_(indices_fd), values_fd_(values_fd), indices_at_(indices_at),
      values_at_(values_at) {}

CsrFile::~CsrFile() {
    if (indices_fd_ >= 0) ::close(indices_fd_);
    if (values_fd_ >= 0) ::close(values_fd_);
}

std::shared_ptr<const CsrFile> CsrFile::open(const std::string& path, uint64_t indices_at, uint64_t values_at) {
    int a = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    GPO_CHECK(a >= 0, path << ": cannot open for reading (" << std::strerror(errno) << ")");
    int b = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (b < 0) {
        int e = errno;
        ::close(a);
        GPO_FAIL(path << ": cannot open for reading (" << std::strerror(e) << ")");
    }
    return std::make_shared<const CsrFile>(path, a, indices_at, b, values_at);
}

void CsrFile::read(int64_t k0, int64_t n, int32_t* idx, float* val) const {
    if (n <= 0) return;
    pread_all(indices_fd_, idx, (uint64_t)n * sizeof(int32_t), indices_at_ + (uint64_t)k0 * sizeof(int32_t), path_);
    pread_all(values_fd_, val, (uint64_t)n * sizeof(float), values_at_ + (uint64_t)k0 * sizeof(float), path_);
}

void CsrFile::will_need(int64_t k0, int64_t n) const {
    if (n <= 0) return;
    ::posix_fadvise(indices_fd_, (off_t)(indices_at_ + (uint64_t)k0 * sizeof(int32_t)), (off_t)(n * sizeof(int32_t)),
                    POSIX_FADV_WILLNEED);
    ::posix_fadvise(values_fd_, (off_t)(values_at_ + (uint64_t)k0 * sizeof(float)), (off_t)(n * sizeof(float)),
                    POSIX_FADV_WILLNEED);
}

void Csr::will_need(const std::vector<int64_t>& rows_wanted) const {
    if (!file) return;
    for (int64_t r : rows_wanted) file->will_need(indptr[r], indptr[r + 1] - indptr[r]);
}

CsrRow Csr::row(int64_t r, RowBuffer& buf) const {
    const int64_t k0 = indptr[r], n = indptr[r + 1] - k0;
    if (!file) return {indices.data() + k0, data.data() + k0, n};
    buf.idx.resize((size_t)n);
    buf.val.resize((size_t)n);
    file->read(k0, n, buf.idx.data(), buf.val.data());
    return {buf.idx.data(), buf.val.data(), n};
}

double Csr::row_sum(int64_t r) const {
    RowBuffer buf;
    CsrRow e = row(r, buf);
    double s = 0;
    for (int64_t k = 0; k < e.n; ++k) s += e.val[k];
    return s;
}

std::string default_spill_dir() {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? std::string(t) : std::string("/tmp");
}

CsrBuilder::CsrBuilder(int64_t cols, uint64_t budget_bytes, std::string spill_dir, std::string what)
    : cols_(cols), budget_(budget_bytes), dir_(std::move(spill_dir)), what_(std::move(what)) {}

CsrBuilder::~CsrBuilder() {
    if (idx_fd_ >= 0) ::close(idx_fd_);
    if (val_fd_ >= 0) ::close(val_fd_);
}

void CsrBuilder::add_row(const int32_t* idx, const float* val, int64_t n) {
    idx_.insert(idx_.end(), idx, idx + n);
    val_.insert(val_.end(), val, val + n);
    indptr_.push_back(indptr_.back() + n);
    if (Csr::array_bytes((int64_t)idx_.size()) > (idx_fd_ >= 0 ? std::min<uint64_t>(budget_, 64u << 20) : budget_)) {
        if (idx_fd_ < 0) spill();
        flush();
    }
}

void CsrBuilder::spill() {
    idx_fd_ = temp_file(dir_, what_);
    val_fd_ = temp_file(dir_, what_);
}

// Appends the rows held in memory to the spill files and empties the buffers.
void CsrBuilder::flush() {
    write_all(idx_fd_, idx_.data(), idx_.size() * sizeof(int32_t), what_);
    write_all(val_fd_, val_.data(), val_.size() * sizeof(float), what_);
    std::vector<int32_t>().swap(idx_);
    std::vector<float>().swap(val_);
}

Csr CsrBuilder::finish() {
    Csr m;
    m.rows = (int64_t)indptr_.size() - 1;
    m.cols = cols_;
    if (idx_fd_ >= 0) {
        flush();
        m.file = std::make_shared<const CsrFile>(what_ + " (spilled to " + dir_ + ")", idx_fd_, 0, val_fd_, 0);
        idx_fd_ = val_fd_ = -1;  // the matrix owns them now
    } else {
        m.indices = std::move(idx_);
        m.data = std::move(val_);
    }
    m.indptr = std::move(indptr_);
    indptr_.assign(1, 0);
    idx_.clear();
    val_.clear();
    return m;
}

}  // namespace gpo::data
