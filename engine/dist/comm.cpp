// MPI behind the ranks of a data-parallel run (see comm.h). Without GPO_HAVE_MPI every call is the one-rank case.
#include "engine/dist/comm.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/check.h"

#ifdef GPO_HAVE_MPI
#include <mpi.h>
#endif

namespace gpo::dist {

namespace {

int g_rank = 0, g_size = 1;
bool g_mpi = false;  // MPI_Init was called

// The world size the launcher announced: OpenMPI's mpirun, a PMI launcher (MPICH's hydra, Slurm's srun
// --mpi=pmi2), or PMIx (srun --mpi=pmix, which may not export a size: then MPI says). 0 = not launched by one.
int launcher_world_size() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
        if (const char* v = std::getenv(name)) return std::atoi(v);
    return std::getenv("PMIX_RANK") ? 2 : 0;
}

#ifdef GPO_HAVE_MPI
void check_mpi(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    GPO_FAIL("MPI " << what << " failed: " << std::string(msg, (size_t)len));
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef GPO_HAVE_MPI
    return true;
#else
    return false;
#endif
}

void init(int* argc, char*** argv) {
    const int announced = launcher_world_size();
    if (announced <= 1) return;
#ifdef GPO_HAVE_MPI
    check_mpi(MPI_Init(argc, argv), "MPI_Init");
    g_mpi = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size");
#else
    (void)argc, (void)argv;
    GPO_FAIL("started by an MPI launcher with " << announced << " ranks, but this gpo-engine was built without MPI "
             "(install libopenmpi-dev, which scripts/setup-deps.sh does, and rebuild with scripts/build.sh)");
#endif
}

void finish(bool failed) {
#ifdef GPO_HAVE_MPI
    if (!g_mpi) return;
    if (failed && g_size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
    g_mpi = false;
#else
    (void)failed;
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }

int local_size() {
    if (g_size == 1) return 1;
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
        if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
    return g_size;
}

int local_rank() {
    if (g_size == 1) return 0;
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
        if (const char* v = std::getenv(name)) return std::max(0, std::atoi(v));
    return g_rank;
}

void allreduce_sum(double* x, int64_t n) {
    if (g_size == 1 || n == 0) return;
#ifdef GPO_HAVE_MPI
    for (int64_t done = 0; done < n;) {  // MPI counts are int
        int chunk = (int)std::min<int64_t>(n - done, 1 << 30);
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, x + done, chunk, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        done += chunk;
    }
#endif
}

void allreduce_sum(Tensor& t) {
    if (g_size == 1 || t.numel() == 0) return;
    GPO_CHECK(t.dtype == DType::F32 || t.dtype == DType::F64, "allreduce_sum: f32 or f64 tensors only");
#ifdef GPO_HAVE_MPI
    Tensor host = t.device == Device::CPU ? t : t.to(Device::CPU);
    const int64_t n = host.numel();
    const bool f32 = host.dtype == DType::F32;
    char* base = static_cast<char*>(host.data());
    const size_t elem = f32 ? sizeof(float) : sizeof(double);
    for (int64_t done = 0; done < n;) {
        int chunk = (int)std::min<int64_t>(n - done, 1 << 30);
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + (size_t)done * elem, chunk, f32 ? MPI_FLOAT : MPI_DOUBLE, MPI_SUM,
                                MPI_COMM_WORLD),
                  "MPI_Allreduce");
        done += chunk;
    }
    if (t.device != Device::CPU) t.copy_from(host.to(t.device));
#endif
}

Part part_of(int64_t n, int rank, int ranks) {
    GPO_CHECK(n >= 0 && ranks > 0 && rank >= 0 && rank < ranks,
              "part_of: rank " << rank << " of " << ranks << ", " << n << " elements");
    return Part{n * rank / ranks, n * (rank + 1) / ranks};
}

#ifdef GPO_HAVE_MPI
namespace {

// The MPI view of a flat tensor's parts: element type, size, and every rank's count and displacement (MPI's int).
struct PartLayout {
    MPI_Datatype type;
    size_t elem;
    std::vector<int> counts, displs;
};

PartLayout part_layout(const Tensor& t, const char* what) {
    GPO_CHECK(t.device == Device::CPU && (t.dtype == DType::F32 || t.dtype == DType::F64),
              what << ": f32 or f64 host tensors only, got " << t.describe());
    GPO_CHECK(t.numel() < (int64_t(1) << 31),
              what << ": " << t.numel() << " elements; MPI counts are int, at most 2^31 - 1");
    PartLayout l;
    l.type = t.dtype == DType::F32 ? MPI_FLOAT : MPI_DOUBLE;
    l.elem = t.dtype == DType::F32 ? sizeof(float) : sizeof(double);
    for (int r = 0; r < g_size; ++r) {
        Part p = part_of(t.numel(), r, g_size);
        l.counts.push_back((int)(p.end - p.begin));
        l.displs.push_back((int)p.begin);
    }
    return l;
}

// Scratch for the block a rank receives in each ring step; kept between steps (grown, never shrunk) so the
// per-step reduce-scatter neither allocates nor page-faults.
std::vector<char> g_ring_scratch;

// Ring reduce-scatter: N − 1 steps; in step s rank r sends its running sum of part (r − s − 1) mod N to rank r + 1
// and adds the one of part (r − s − 2) mod N it receives from rank r − 1, so after the last step part r holds the
// sum over all ranks (each value is sent N − 1 times in all, as in MPI_Allreduce's ring). Written here because
// OpenMPI's MPI_Reduce_scatter allocates its buffers on every call and took ~2× an MPI_Allreduce of the whole
// buffer (1.75 M floats, 2 ranks); this ring plus the all-gather takes 0.4× of it at 10 M floats (build/bench_comm,
// docs/scaling.md). The order of the additions is fixed by N, so runs repeat bit for bit.
template <typename T>
void ring_reduce_scatter(T* data, const PartLayout& l) {
    const int n = g_size, r = g_rank;
    const int max_count = *std::max_element(l.counts.begin(), l.counts.end());
    if (g_ring_scratch.size() < (size_t)max_count * sizeof(T)) g_ring_scratch.resize((size_t)max_count * sizeof(T));
    T* in = reinterpret_cast<T*>(g_ring_scratch.data());
    const int to = (r + 1) % n, from = (r - 1 + n) % n;
    constexpr int kTag = 7301;  // no other point-to-point messages are sent; a tag of its own all the same
    for (int s = 0; s < n - 1; ++s) {
        const int send = ((r - s - 1) % n + n) % n, recv = ((r - s - 2) % n + n) % n;
        check_mpi(MPI_Sendrecv(data + l.displs[(size_t)send], l.counts[(size_t)send], l.type, to, kTag, in,
                               l.counts[(size_t)recv], l.type, from, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                  "MPI_Sendrecv (reduce-scatter ring)");
        T* acc = data + l.displs[(size_t)recv];
        for (int i = 0; i < l.counts[(size_t)recv]; ++i) acc[i] += in[i];
    }
}

}  // namespace
#endif

#ifdef GPO_HAVE_MPI
namespace {
// A tensor on a GPU goes through host memory: f runs on a host copy, which is then copied back (NCCL between GPUs
// is not built yet: docs/scaling.md). CPU tensors are used in place.
template <typename F>
void on_host(Tensor& t, F f) {
    if (t.device == Device::CPU) return f(t);
    Tensor host = t.to(Device::CPU);
    f(host);
    t.copy_from(host);
}
}  // namespace
#endif

void reduce_scatter_sum(Tensor& t) {
    if (g_size == 1) return;
#ifdef GPO_HAVE_MPI
    on_host(t, [](Tensor& h) {
        PartLayout l = part_layout(h, "reduce_scatter_sum");
        if (h.dtype == DType::F32)
            ring_reduce_scatter(static_cast<float*>(h.data()), l);
        else
            ring_reduce_scatter(static_cast<double*>(h.data()), l);
    });
#endif
}

void allgather_parts(Tensor& t) {
    if (g_size == 1) return;
#ifdef GPO_HAVE_MPI
    on_host(t, [](Tensor& h) {
        PartLayout l = part_layout(h, "allgather_parts");
        check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, h.data(), l.counts.data(), l.displs.data(),
                                 l.type, MPI_COMM_WORLD),
                  "MPI_Allgatherv");
    });
#endif
}

void gather_parts_to_root(const Tensor& part_in, Tensor* whole_in) {
    if (g_size == 1) return;
#ifdef GPO_HAVE_MPI
    // GPU tensors through host copies (the whole one is written back on rank 0 at the end).
    const Tensor part = part_in.device == Device::CPU ? part_in : part_in.to(Device::CPU);
    Tensor staged;
    Tensor* whole = whole_in;
    if (whole_in && whole_in->device != Device::CPU) staged = whole_in->to(Device::CPU), whole = &staged;
    GPO_CHECK(part.dtype == DType::F32 || part.dtype == DType::F64,
              "gather_parts_to_root: f32 or f64 tensors only, got " << part.describe());
    // Every rank's part size, from each rank's count (the parts need not come from part_of).
    int mine = (int)part.numel();
    GPO_CHECK(part.numel() < (int64_t(1) << 31), "gather_parts_to_root: " << part.numel() << " elements in a part");
    std::vector<int> counts((size_t)g_size), displs((size_t)g_size);
    check_mpi(MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather (part sizes)");
    const MPI_Datatype type = part.dtype == DType::F32 ? MPI_FLOAT : MPI_DOUBLE;
    void* recv = nullptr;
    if (g_rank == 0) {
        int64_t total = 0;
        for (int r = 0; r < g_size; ++r) displs[(size_t)r] = (int)total, total += counts[(size_t)r];
        GPO_CHECK(whole && whole->dtype == part.dtype && whole->numel() == total &&
                      total < (int64_t(1) << 31),
                  "gather_parts_to_root: rank 0 needs a " << dtype_name(part.dtype) << " tensor of " << total
                                                              << " elements, got "
                                                              << (whole ? whole->describe() : std::string("none")));
        recv = whole->data();
    }
    check_mpi(MPI_Gatherv(part.data(), mine, type, recv, counts.data(), displs.data(), type, 0, MPI_COMM_WORLD),
              "MPI_Gatherv");
    if (whole == &staged) whole_in->copy_from(staged);
#else
    (void)part_in, (void)whole_in;
#endif
}

int64_t allreduce_max(int64_t x) {
    if (g_size == 1) return x;
#ifdef GPO_HAVE_MPI
    long long v = x, out = 0;
    check_mpi(MPI_Allreduce(&v, &out, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
    return out;
#else
    return x;
#endif
}

void barrier() {
    if (g_size == 1) return;
#ifdef GPO_HAVE_MPI
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

}  // namespace gpo::dist
