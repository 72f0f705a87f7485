// The ranks of a data-parallel run (docs/scaling.md). A process started by an MPI launcher (`mpirun -np N`, or a
// scheduler's `srun`, which set OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) joins MPI_COMM_WORLD; any other
// process is rank 0 of 1 and never touches MPI, so a build without MPI, or a user who never launches through MPI,
// sees no difference.
//
// Collectives are in place and blocking. Sums over ranks: every rank receives the same bits (MPI reduces each
// element once and broadcasts it, or adds commutatively in a fixed tree; the reduce-scatter's ring adds each part on
// its owner, which then copies it to the others), so the ranks' parameters stay equal step after step. Tensors on a
// GPU are staged through the host (NCCL between GPUs is not built yet: docs/scaling.md).
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace gpo::dist {

// Called once at the start of main: joins MPI when launched by an MPI launcher with more than one rank. Throws
// gpo::Error when launched so but the build has no MPI.
void init(int* argc, char*** argv);
// Called once before exit: MPI_Finalize, or, when this rank failed and there are several, MPI_Abort, so that the
// other ranks do not wait forever in a collective for the one that failed.
void finish(bool failed);

int rank();
int size();
// Ranks on this machine (the launcher's OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS; size() when it says none).
int local_size();
// This rank's index among the ranks on its machine (the launcher's OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or
// SLURM_LOCALID; rank() when it says none): which GPU it uses (engine/device.h).
int local_rank();
inline bool is_root() { return rank() == 0; }
bool built_with_mpi();

// In-place sums over the ranks (no-ops on one rank).
void allreduce_sum(double* x, int64_t n);
void allreduce_sum(Tensor& t);  // f32 or f64, CPU or CUDA, contiguous

// The optimizer's split of a flat buffer of n elements: rank r owns the contiguous part [begin, end), the parts in
// rank order and within one element of equal size (docs/scaling.md "What is split").
struct Part {
    int64_t begin = 0, end = 0;
};
Part part_of(int64_t n, int rank, int ranks);
inline Part my_part(int64_t n) { return part_of(n, rank(), size()); }
// On several ranks (f32 or f64 tensors, fewer than 2^31 elements; GPU tensors staged through the host).
// reduce_scatter_sum: this rank's part of t
// becomes the sum over the ranks of that part (the rest of t then holds partial sums: use the part only).
// allgather_parts: every rank's part of t is copied from its owner to every rank.
void reduce_scatter_sum(Tensor& t);
void allgather_parts(Tensor& t);
// Every rank's `part` (the parts in rank order make the whole) into *whole on rank 0 (whole is ignored elsewhere):
// the optimizer state each rank keeps for its part only, collected for a checkpoint.
void gather_parts_to_root(const Tensor& part, Tensor* whole);
// Largest value over the ranks (stop requests, flags).
int64_t allreduce_max(int64_t x);
void barrier();

}  // namespace gpo::dist
