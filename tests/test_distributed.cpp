// Data-parallel exactness (engine/dist/, docs/scaling.md): `mpirun -np 2 gpo-engine train` with global batch B
// gives the losses and parameters of one process with batch B, for every model type, and a run resumed with
// another number of ranks continues as if it had never stopped. Skipped with a reason when mpirun or the MPI build
// is missing; GPO_REQUIRE_MPI=1 makes that a failure (CI installs OpenMPI through scripts/setup-deps.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/device.h"
#include "engine/dist/comm.h"
#include "kernels/cuda/runtime.h"
#include "tests/harness.h"
#include "tests/cli_harness.h"

namespace gpo::test {
namespace {

using json = nlohmann::json;

// Why not: "" when mpirun and an MPI build are there.
std::string mpi_missing() {
    if (!dist::built_with_mpi()) return "this build has no MPI (install libopenmpi-dev and rebuild)";
    if (run_shell("command -v mpirun").code != 0) return "mpirun not found (apt-get install openmpi-bin)";
    return "";
}

#define SKIP_WITHOUT_MPI()                                                                  \
    do {                                                                                    \
        std::string why = mpi_missing();                                                    \
        if (!why.empty()) {                                                                 \
            const char* req = std::getenv("GPO_REQUIRE_MPI");                               \
            if (req && std::string(req) == "1") FAIL() << "GPO_REQUIRE_MPI=1 but " << why; \
            GTEST_SKIP() << why;                                                            \
        }                                                                                   \
    } while (0)

// OpenMPI refuses to start as root without these, and needs --oversubscribe for 2 ranks on fewer cores. Leak
// reports of the MPI library itself (sanitizer build) are not ours.
std::string mpirun(int ranks) {
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
           "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" mpirun -np " +
           std::to_string(ranks) + " ";
}

std::vector<json> read_log(const std::string& path) {
    std::ifstream f(path);
    std::vector<json> out;
    for (std::string line; std::getline(f, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

// Every number of every step and epoch line of two metrics logs, relative to the larger magnitude.
void expect_same_logs(const std::string& a, const std::string& b, double rel_tol) {
    std::vector<json> la = read_log(a), lb = read_log(b);
    ASSERT_FALSE(la.empty()) << a;
    ASSERT_EQ(la.size(), lb.size()) << a << " vs " << b;
    double worst = 0;
    std::string where;
    for (size_t i = 0; i < la.size(); ++i)
        for (auto& [k, v] : la[i].items()) {
            ASSERT_TRUE(lb[i].contains(k)) << "line " << i << " key " << k;
            if (!v.is_number()) continue;
            double x = v.get<double>(), y = lb[i][k].get<double>();
            double d = std::abs(x - y) / std::max({1e-3, std::abs(x), std::abs(y)});
            if (d > worst) worst = d, where = "line " + std::to_string(i) + " " + k;
        }
    EXPECT_LE(worst, rel_tol) << "largest difference at " << where;
}

// The parameters element by element (absolute difference), and Adam's two moments relative to each moment's
// largest magnitude, both within tol: on several ranks each rank keeps its own part of them current and rank 0 gathers the parts
// into the checkpoint, so a part missed or misplaced differs by the moments themselves (relative difference ~1).
void expect_same_params(const std::string& a, const std::string& b, double tol) {
    auto pa = checkpoint_tensors(a, "param/"), pb = checkpoint_tensors(b, "param/");
    ASSERT_FALSE(pa.empty()) << a;
    ASSERT_EQ(pa.size(), pb.size());
    double worst = 0;
    std::string where;
    for (auto& [name, v] : pa) {
        ASSERT_EQ(v.size(), pb[name].size()) << name;
        for (size_t i = 0; i < v.size(); ++i) {
            double d = std::abs(v[i] - pb[name][i]);
            if (d > worst) worst = d, where = name + "[" + std::to_string(i) + "]";
        }
    }
    EXPECT_LE(worst, tol) << "largest difference at " << where;
    auto sa = checkpoint_tensors(a, "optim/"), sb = checkpoint_tensors(b, "optim/");
    ASSERT_EQ(sa.size(), 2u) << a << ": the checkpoint holds no Adam state";
    for (auto& [name, v] : sa) {
        ASSERT_EQ(v.size(), sb[name].size()) << name;
        double scale = 0, d = 0;
        size_t at = 0;
        for (size_t i = 0; i < v.size(); ++i) {
            scale = std::max({scale, std::abs(v[i]), std::abs(sb[name][i])});
            if (std::abs(v[i] - sb[name][i]) > d) d = std::abs(v[i] - sb[name][i]), at = i;
        }
        ASSERT_GT(scale, 0) << name;
        EXPECT_LE(d / scale, tol) << name << "[" << at << "] of " << v.size() << ": " << v[at] << " vs "
                                            << sb[name][at] << " (largest magnitude " << scale << ")";
    }
}

// Two epochs of a tiny model with an odd batch (shards of 501 and 500 cells, a short last batch, 26 steps, two
// validations), every step logged; in float64 unless `extra` says otherwise; on the CPU unless `device` says otherwise.
std::string train_args(const std::string& extra, const std::string& out, const std::string& device = "cpu") {
    return "train --device " + device + " --config " + demo_config() + tiny_sets() +
           " --set train.batch_size=1001 --set train.max_epochs=2 --set train.log_every_steps=1"
           " --set train.dtype=float64" + extra + " --out " + out + " --force";
}

// Tolerances. The runs do the same arithmetic except that each sum over a batch's cells is split into two partial
// sums added at the end (and MPI adds the ranks' gradients), which changes rounding at the working precision.
// In float64 (2e-16) that leaves the 26 steps' losses within ~2e-13 relative and the parameters within ~1e-14;
// the bounds, 1e-9, are far above that and far below what any difference of the objective gives: a shard that
// used its own cell count, its own noise or its own QC fraction, or that counted a batch-independent term twice,
// moves the losses by 1e-4 to 1 (checked by breaking each on purpose).
// Why float64: the straight-through mask samples are thresholds (M = [s > 0.5]). In float32, once rounding has
// moved a mask logit by ~1e-7, a sample that close to the threshold flips and the runs then differ by an optimizer
// step (seen after 17 steps of gpo_vae with cf_term=kl, after 41 of sams_vae). That is the estimator's sensitivity
// to the last bit, as with another BLAS or compiler; float64 moves the logits by ~1e-15 and no sample flips.
constexpr double kLossTol = 1e-9;
constexpr double kParamTol = 1e-9;
// Float32 (what users train in, MPI_FLOAT sums): one epoch of gpo_vae, 13 steps, no flip. Measured: losses within
// 5e-7 relative, parameters within 3.6e-6 (Adam turns a gradient's rounding into a step of up to lr times it); the
// bounds are 20x and 14x that, still 20x below one optimizer step (lr = 1e-3).
constexpr double kLossTolF32 = 1e-5;
constexpr double kParamTolF32 = 5e-5;

// Trains in scratch folder `name` once as one process and once on `ranks` ranks with the same arguments, and
// compares the two runs' logs and final parameters.
void expect_ranks_equal_one_process(const std::string& name, const std::string& extra, int ranks, double loss_tol,
                                    double param_tol) {
    auto dir = scratch_dir(name);
    const std::string one = (dir / "one").string(), many = (dir / "many").string();
    CliResult r1 = run_engine(train_args(extra, one));
    ASSERT_EQ(r1.code, 0) << r1.output;
    CliResult rn = run_shell(mpirun(ranks) + engine_binary() + " " + train_args(extra, many));
    ASSERT_EQ(rn.code, 0) << rn.output;
    EXPECT_TRUE(contains(rn.output, "ranks        " + std::to_string(ranks) + " (MPI)")) << rn.output;
    expect_same_logs(one + "/metrics.jsonl", many + "/metrics.jsonl", loss_tol);
    expect_same_params(one + "/checkpoints/last.ckpt", many + "/checkpoints/last.ckpt", param_tol);
}

struct ModelCase {
    const char* name;
    const char* sets;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

class DistributedExactness : public ::testing::TestWithParam<ModelCase> {};

TEST_P(DistributedExactness, TwoRanksEqualOneProcess) {
    SKIP_WITHOUT_MPI();
    const ModelCase& c = GetParam();
    expect_ranks_equal_one_process(std::string("dist_") + c.name, c.sets, 2, kLossTol, kParamTol);
}

// gpo_vae twice: the default (ELBO, QC branch with the batch's QC fraction, reference counterfactual term, GRN and
// sparsity terms) and the variants whose normalisers are batch counts (exact-KL counterfactual term over the cells
// with a counterfactual) or that add a constant once per batch (IWELBO's log P).
INSTANTIATE_TEST_SUITE_P(
    Models, DistributedExactness,
    ::testing::Values(ModelCase{"gpo_vae", ""},
                      ModelCase{"gpo_vae_kl_iwelbo", " --set model.cf_term=kl --set train.objective=iwelbo"},
                      ModelCase{"sams_vae", " --set model.type=sams_vae"},
                      ModelCase{"cpa_vae", " --set model.type=cpa_vae"},
                      ModelCase{"conditional_vae", " --set model.type=conditional_vae"}),
    [](const ::testing::TestParamInfo<ModelCase>& i) { return std::string(i.param.name); });

TEST(Distributed, TwoRanksEqualOneProcessInFloat32) {
    SKIP_WITHOUT_MPI();
    expect_ranks_equal_one_process("dist_f32", " --set train.dtype=float32 --set train.max_epochs=1", 2, kLossTolF32,
                                   kParamTolF32);
}

// Two ranks on GPUs (both on one GPU when the machine has one): the gradients, the parameter parts and the Adam
// moments go through host memory between the ranks (engine/dist/comm.cpp on_host); float32, as the CUDA path
// trains, so the float32 tolerances above apply (the same partial sums, now on the GPU). Skipped with a reason
// without a GPU; GPO_REQUIRE_GPU=1 makes that a failure.
TEST(Distributed, TwoRanksOnGpusEqualOneProcessOnAGpu) {
    SKIP_WITHOUT_MPI();
    GPO_REQUIRE_CUDA_OR_SKIP();
    auto dir = scratch_dir("dist_cuda");
    const std::string extra = " --set train.dtype=float32 --set train.max_epochs=1";
    const std::string one = (dir / "one").string(), many = (dir / "many").string();
    CliResult r1 = run_engine(train_args(extra, one, "cuda"));
    ASSERT_EQ(r1.code, 0) << r1.output;
    CliResult rn = run_shell(mpirun(2) + engine_binary() + " " + train_args(extra, many, "cuda"));
    ASSERT_EQ(rn.code, 0) << rn.output;
    EXPECT_TRUE(contains(rn.output, "staged through host memory")) << rn.output;
    expect_same_logs(one + "/metrics.jsonl", many + "/metrics.jsonl", kLossTolF32);
    expect_same_params(one + "/checkpoints/last.ckpt", many + "/checkpoints/last.ckpt", kParamTolF32);
}

// Three ranks: unequal parameter parts and a reduce-scatter ring of two steps (with two ranks it has one), and
// batch shards of unequal size.
TEST(Distributed, ThreeRanksEqualOneProcess) {
    SKIP_WITHOUT_MPI();
    expect_ranks_equal_one_process("dist_3ranks", "", 3, kLossTol, kParamTol);
}

// A run started on two ranks and resumed on one, and one started as one process and resumed on two, continue as one
// process that never stopped: the checkpoint holds nothing that depends on the number of ranks.
TEST(Distributed, ResumeWithAnotherNumberOfRanks) {
    SKIP_WITHOUT_MPI();
    auto dir = scratch_dir("dist_resume");
    const std::string whole = (dir / "whole").string(), split = (dir / "split").string();
    CliResult a = run_engine(train_args("", whole));
    ASSERT_EQ(a.code, 0) << a.output;
    CliResult b = run_shell(mpirun(2) + engine_binary() + " " + train_args("", split) + " --max-steps 7");
    ASSERT_EQ(b.code, 0) << b.output;
    CliResult c = run_engine("train --device cpu --config " + split + "/config.json --out " + split + " --resume " + split +
                             "/checkpoints/last.ckpt");
    ASSERT_EQ(c.code, 0) << c.output;
    expect_same_logs(whole + "/metrics.jsonl", split + "/metrics.jsonl", kLossTol);
    expect_same_params(whole + "/checkpoints/last.ckpt", split + "/checkpoints/last.ckpt", kParamTol);
    // And the other way: started as one process, resumed on two ranks (each keeps its part of the loaded moments).
    const std::string later = (dir / "later").string();
    CliResult d = run_engine(train_args("", later) + " --max-steps 7");
    ASSERT_EQ(d.code, 0) << d.output;
    CliResult e = run_shell(mpirun(2) + engine_binary() + " train --device cpu --config " + later + "/config.json --out " + later +
                            " --resume " + later + "/checkpoints/last.ckpt");
    ASSERT_EQ(e.code, 0) << e.output;
    expect_same_logs(whole + "/metrics.jsonl", later + "/metrics.jsonl", kLossTol);
    expect_same_params(whole + "/checkpoints/last.ckpt", later + "/checkpoints/last.ckpt", kParamTol);
}

// Commands other than train refuse several ranks (each rank would write the same files), with a message and a
// non-zero exit instead of a hang.
TEST(Distributed, OtherCommandsRefuseSeveralRanks) {
    SKIP_WITHOUT_MPI();
    auto dir = scratch_dir("dist_refuse");
    CliResult r = run_shell(mpirun(2) + engine_binary() + " preprocess --config " + demo_config() + tiny_sets());
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "only train runs on several ranks")) << r.output;
}

// An error on rank 0 (here: the run folder already holds a run) stops every rank with the message and a non-zero
// exit instead of leaving the other ranks waiting in a collective (`timeout` turns a hang into a failure).
TEST(Distributed, AnErrorOnOneRankStopsThemAll) {
    SKIP_WITHOUT_MPI();
    auto dir = scratch_dir("dist_error");
    const std::string out = (dir / "run").string();
    std::string args = train_args(" --set train.max_epochs=1", out);
    CliResult first = run_engine(args);
    ASSERT_EQ(first.code, 0) << first.output;
    args.erase(args.rfind(" --force"));
    std::string launch = mpirun(2);
    launch.replace(launch.find("mpirun -np"), 6, "timeout 120 mpirun");
    CliResult r = run_shell(launch + engine_binary() + " " + args);
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.code, 124) << "the ranks hung: " << r.output;
    EXPECT_TRUE(contains(r.output, "already holds a run")) << r.output;
}

}  // namespace
}  // namespace gpo::test
