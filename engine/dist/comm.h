// The ranks of a data-parallel run (docs/scaling.md). A process started by an MPI launcher (`mpirun -np N`, or a
// scheduler's `srun`, which set OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) joins MPI_COMM_WORLD; any other
// process is rank 0 of 1 and never touches MPI, so a build without MPI, or a user who never launches through MPI,
// sees no difference.
//
// Collectives are in place and blocking. Sums over ranks: every rank receives the same bits (MPI reduces each
// element once and broadcasts it, or adds commutatively in a fixed tree), which keeps the ranks' parameters equal
// step after step. Tensors on a GPU are staged through the host (NCCL between GPUs is not built yet: docs/scaling.md).
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
inline bool is_root() { return rank() == 0; }
bool built_with_mpi();

// In-place sums over the ranks (no-ops on one rank).
void allreduce_sum(double* x, int64_t n);
void allreduce_sum(Tensor& t);  // f32 or f64, CPU or CUDA, contiguous
// Largest value over the ranks (stop requests, flags).
int64_t allreduce_max(int64_t x);
void barrier();

}  // namespace gpo::dist
