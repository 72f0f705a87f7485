// Training-step benchmark at the reference scale of docs/model.md §8 (8,563 genes, T = 1,546 = 622 perturbed + 924 extended,
// latent 100, batch 512, 5 particles, decoder 2 x 400, E-encoder 4 x 400): times full optimizer steps (forward,
// backward, clipping, Adam) of gpo_vae on CPU (a few steps) and on CUDA when present, and writes JSON with
// cells/s, steps/s, peak memory, device and git sha.
// The cells are random counts with the reference's shapes (a timing fixture, not biology): the step cost depends on
// the batch, G, T and the number of distinct perturbations per batch, not on the number of cells in the file.
// Usage: bench_train [--out FILE] [--cpu-steps N] [--cuda-steps N] [--cells N] [shape flags]
// Shape flags (defaults: the K562 shape) match tools/bench/reference/ref_gpo_vae_step.py's, so the two run one shape:
// --genes G --perturbed N --extended N --batch B --basal-hidden H --nnz K --fc-criteria TAU --penalty S.
// The embedded demo's shape: --genes 299 --perturbed 25 --extended 13 --batch 128 --basal-hidden 400 --nnz 67
// --fc-criteria 0.4 --penalty 1. Perturbed genes beyond genes - extended are unmeasured (treatment without a gene
// column), as in a genome-wide screen: --genes 8000 --perturbed 9900 --extended 100 (T = 10,000) is the GWPS shape
// (docs/scaling.md). Threads: OPENBLAS_NUM_THREADS (recorded in the JSON).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>
#include <string>

#include "gpo_git_sha.h"
#include "engine/blas_threads.h"
#include "engine/data/loader.h"
#include "engine/device.h"
#include "engine/models/factory.h"
#include "engine/ops/dispatch.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "io/config.h"
#include "kernels/cuda/runtime.h"

using namespace gpo;
using nlohmann::json;

static data::Dataset reference_shaped_dataset(int64_t N, int64_t G, int64_t T, int64_t n_pert, int64_t nnz_per_cell,
                                              uint64_t seed) {
    data::Dataset ds;
    ds.source = "synthetic reference-shaped cells";
    ds.N = N;
    ds.G = G;
    ds.T = T;
    ds.n_perturbed = n_pert;
    HostRng rng(seed, 1);
    for (int64_t g = 0; g < G; ++g) ds.gene_names.push_back("g" + std::to_string(g));
    // Treatments: the perturbed ones first, then the extended genes (measured: genes 0..E-1); the perturbed ones
    // take genes E, E+1, ... while there are genes left and are unmeasured after that (a genome-wide screen
    // perturbs more genes than it measures: T > G).
    const int64_t E = T - n_pert;
    ds.gene_treatment.assign(G, -1);
    for (int64_t t = 0; t < T; ++t) {
        const int64_t g = t >= n_pert ? t - n_pert : (E + t < G ? E + t : -1);
        ds.treatment_names.push_back(g >= 0 ? ds.gene_names[g] : "u" + std::to_string(t));
        ds.treatment_gene.push_back((int)g);
        if (g >= 0) ds.gene_treatment[g] = (int)t;
    }
    ds.counts.rows = ds.cf_counts.rows = N;
    ds.counts.cols = ds.cf_counts.cols = G;
    for (int64_t n = 0; n < N; ++n) {
        double lib = 0;
        int64_t g = 0;
        for (int64_t k = 0; k < nnz_per_cell; ++k) {
            g += 1 + (int64_t)rng.below((uint64_t)(2 * G / nnz_per_cell - 1));
            if (g >= G) break;
            float v = (float)(1 + rng.below(20));
            ds.counts.indices.push_back((int32_t)g);
            ds.counts.data.push_back(v);
            lib += v;
        }
        ds.counts.indptr.push_back((int64_t)ds.counts.data.size());
        ds.cf_counts.indptr.push_back(0);
        ds.library.push_back((float)lib);
        bool control = rng.below(20) == 0;
        ds.treatments.push_back(control ? std::vector<int>{} : std::vector<int>{(int)rng.below((uint64_t)n_pert)});
        ds.labels.push_back(control ? "non-targeting" : ds.treatment_names[ds.treatments.back()[0]]);
        ds.qc.push_back(rng.below(10) == 0);
        ds.split.push_back(data::SPLIT_TRAIN);
        ds.has_cf.push_back(1);
        ds.matched_control.push_back(-1);
    }
    // Counterfactual profile = the next cell's counts (timing only).
    ds.cf_counts = ds.counts;
    for (int64_t n = 0; n < N; ++n) ds.matched_control[n] = (n + 1) % N;
    ds.norm_mean.assign(G, 0.5f);
    ds.norm_std.assign(G, 1.0f);
    ds.normalize_target = 3000;
    ds.plate_count.assign(3 * T, 0.0);
    for (int64_t n = 0; n < N; ++n) {
        for (int t : ds.treatments[n]) ds.plate_count[t] += 1;
        ds.n_fail[0] += ds.qc[n];
    }
    ds.train_fail_fraction = ds.n_fail[0] / (double)N;
    ds.control_label = "non-targeting";
    return ds;
}

static json time_steps(const json& cfg, const data::Dataset& ds, Device dev, int steps) {
    ParamStore ps;
    auto model = models::create_model(cfg, ds, ps);
    ps.finalize(Device::CPU, DType::F32);
    model->init_params(ps, 0);
    ps.to(dev);
    Adam adam(AdamConfig{}, ps);
    const int64_t B = cfg["train"]["batch_size"].get<int64_t>();
    auto batches = data::epoch_batches(ds, data::SPLIT_TRAIN, B, 0, 0, true);
    auto one_step = [&](int64_t s) {
        models::Batch b = data::make_batch(ds, batches[s % batches.size()], data::SPLIT_TRAIN, DType::F32, dev);
        ps.zero_grad();
        Tape tape;
        models::LossTerms t = model->loss(tape, ps, b, RngKey{0, 0}, (uint64_t)s);
        tape.backward(t.total);
        clip_grad_norm(ps, 100.0);
        adam.step(ps);
        return t.loss;
    };
    one_step(0);  // warm-up (cuBLAS handles, allocator cache)
    if (dev == Device::CUDA) {
        cuda::synchronize();
        cuda::reset_peak_memory();
    }
    const double flops0 = ops::gemm_flops_total();
    auto t0 = std::chrono::steady_clock::now();
    double last = 0;
    for (int s = 1; s <= steps; ++s) last = one_step(s);
    if (dev == Device::CUDA) cuda::synchronize();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json r = {{"device", dev == Device::CUDA ? cuda::devices()[0].name : std::string("cpu")},
              {"steps", steps},
              {"seconds", secs},
              {"steps_per_s", steps / secs},
              {"cells_per_s", steps * (double)B / secs},
              {"last_loss", last},
              {"gemm_gflop_per_step", (ops::gemm_flops_total() - flops0) / steps / 1e9},
              {"gemm_gflop_per_s", (ops::gemm_flops_total() - flops0) / secs / 1e9},
              {"parameters", ps.numel()},
              {"peak_host_rss_mb", ru.ru_maxrss / 1024.0}};
    if (dev == Device::CUDA) r["peak_device_mb"] = cuda::peak_memory_used() / 1048576.0;
    return r;
}

int main(int argc, char** argv) {
    const int blas_timeout = gpo::configure_blas_threads();  // as gpo-engine does
    std::string out = "bench_out/train.json";
    int cpu_steps = 2, cuda_steps = 20;
    int64_t cells = 4096, genes = 8563, perturbed = 622, extended = 924, batch = 512, basal_hidden = 200, nnz = 1500;
    double fc = 0.8, penalty = 5;  // the K562 column of docs/model.md §5
    for (int i = 1; i + 1 < argc; i += 2) {
        const char* k = argv[i];
        const char* v = argv[i + 1];
        if (!std::strcmp(k, "--out")) out = v;
        else if (!std::strcmp(k, "--cpu-steps")) cpu_steps = std::atoi(v);
        else if (!std::strcmp(k, "--cuda-steps")) cuda_steps = std::atoi(v);
        else if (!std::strcmp(k, "--cells")) cells = std::atoll(v);
        else if (!std::strcmp(k, "--genes")) genes = std::atoll(v);
        else if (!std::strcmp(k, "--perturbed")) perturbed = std::atoll(v);
        else if (!std::strcmp(k, "--extended")) extended = std::atoll(v);
        else if (!std::strcmp(k, "--batch")) batch = std::atoll(v);
        else if (!std::strcmp(k, "--basal-hidden")) basal_hidden = std::atoll(v);
        else if (!std::strcmp(k, "--nnz")) nnz = std::atoll(v);
        else if (!std::strcmp(k, "--fc-criteria")) fc = std::atof(v);
        else if (!std::strcmp(k, "--penalty")) penalty = std::atof(v);
        else {
            std::fprintf(stderr, "bench_train: unknown option %s\n", k);
            return 2;
        }
    }
    if (genes < 2 || perturbed < 1 || extended < 0 || extended > genes || batch < 1 || nnz < 1 || 2 * genes / nnz < 2) {
        std::fprintf(stderr, "bench_train: need 1 <= perturbed, extended <= genes, 1 <= nnz <= genes (perturbed genes "
                             "beyond the genes are unmeasured)\n");
        return 2;
    }
    try {
        json cfg = io::config_load("", {"model.type=gpo_vae", "model.basal_encoder.hidden=" + std::to_string(basal_hidden),
                                        "model.fc_criteria=" + std::to_string(fc),
                                        "model.sparsity_coeff=" + std::to_string(penalty),
                                        "train.batch_size=" + std::to_string(batch)});
        data::Dataset ds = reference_shaped_dataset(cells, genes, perturbed + extended, perturbed, nnz, 1);
        const char* th = std::getenv("OPENBLAS_NUM_THREADS");
        json res = {{"benchmark", "train_step_gpo_vae"},
                    {"git_sha", GPO_GIT_SHA},
                    {"blas_threads", th ? std::string(th) : std::string("default")},
                    {"blas_thread_timeout", blas_timeout},
                    {"hardware_threads", (int)std::thread::hardware_concurrency()},
                    {"shape", {{"genes", genes}, {"T", perturbed + extended}, {"perturbed", perturbed}, {"latent", 100},
                               {"batch", batch}, {"particles", 5}, {"basal_hidden", basal_hidden}, {"nnz_per_cell", nnz}}},
                    {"results", json::array()}};
        if (cpu_steps > 0) {
            std::fprintf(stderr, "bench_train: %d CPU steps...\n", cpu_steps);
            res["results"].push_back(time_steps(cfg, ds, Device::CPU, cpu_steps));
        }
        if (cuda_available() && cuda_steps > 0) {
            std::fprintf(stderr, "bench_train: %d CUDA steps...\n", cuda_steps);
            res["results"].push_back(time_steps(cfg, ds, Device::CUDA, cuda_steps));
        }
        std::printf("%s\n", res.dump(2).c_str());
        std::ofstream(out) << res.dump(2) << "\n";
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
