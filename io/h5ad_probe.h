// Crash isolation for reading untrusted .h5ad files. libhdf5 1.10 can crash (SIGSEGV in H5HG_read on a damaged
// variable-length string heap), hang, or allocate gigabytes on a corrupt file before it reports an error. Before
// the real read, h5ad_probe() runs the same read in a forked child process whose address space is bounded and
// whose time is limited; the child reports each field it touches through a pipe. A crash, hang or runaway
// allocation in the child becomes a gpo::Error naming the file and the field ("corrupt file: HDF5 crashed
// reading var/_index"); an ordinary read error in the child is passed on as is; success lets the parent read.
#pragma once
#include <string>

#include "io/h5ad.h"

namespace gpo::io {

struct ProbeLimits {
    double seconds = 0;    // 0: 30 s plus 1 s per 20 MB of file
    double max_bytes = 0;  // extra address space the child may allocate; 0: 2 GB plus 64 x the file size
};

void h5ad_probe(const std::string& path, const H5adReadOptions& opt, const ProbeLimits& limits = {});

// The read itself without the probe (what the probe's child runs).
AnnData h5ad_read_unprobed(const std::string& path, const H5adReadOptions& opt);

}  // namespace gpo::io
