// A tiny hand-built minibatch shared by the model test suites (gpo_vae and the SAMS-VAE family).
#pragma once
#include <cmath>

#include "engine/models/batch.h"
#include "tests/harness.h"

namespace gpo::test {

using models::Batch;

// Six cells of G genes over T = 4 treatments: {0}, {1}, {0,2} (a combination), control, {2}, {1}; cells 1 and 4
// fail QC. Treatment 3 has no cell; `all_rows` lists it as present anyway (the full computation). The plate counts
// N_t are multiplied by `plate_scale`.
inline Batch tiny_batch(int64_t G, bool all_rows, double plate_scale = 1.0) {
    Batch b;
    b.B = 6;
    std::vector<std::vector<int>> treat = {{0}, {1}, {0, 2}, {}, {2}, {1}};
    std::vector<int> qc = {0, 1, 0, 0, 1, 0};
    std::vector<double> plate_n = {3, 2, 2, 0};  // N_t in the split
    b.present = all_rows ? std::vector<int>{0, 1, 2, 3} : std::vector<int>{0, 1, 2};
    std::vector<std::vector<std::pair<int, double>>> sub(6), plate(6);
    for (int n = 0; n < 6; ++n)
        for (int t : treat[n]) {
            int pos = 0;
            while (b.present[pos] != t) ++pos;
            sub[n].push_back({pos, 1.0});
            plate[n].push_back({pos, 1.0 / (plate_n[t] * plate_scale)});
        }
    int64_t R = (int64_t)b.present.size();
    b.D_sub = ops::Dosage::from_lists(sub, R, DType::F64);
    b.D_plate = ops::Dosage::from_lists(plate, R, DType::F64);
    std::vector<double> cnt = random_tensor({6, G}, DType::F64, 41, 0, 20).to_vector(), lib(6, 0.0);
    for (double& x : cnt) x = std::floor(x);
    b.counts = Tensor::from_vector({6, G}, cnt, DType::F64);
    for (int n = 0; n < 6; ++n)
        for (int g = 0; g < G; ++g) lib[n] += cnt[n * G + g];
    b.library = Tensor::from_vector({6}, lib, DType::F64);
    b.norm_x = random_tensor({6, G}, DType::F64, 42, -1, 1);
    b.cf_norm_x = random_tensor({6, G}, DType::F64, 44, -1, 1);
    b.has_cf = {1, 1, 0, 0, 1, 1};
    b.qc_host = qc;
    b.qc = Tensor::from_vector({6}, std::vector<double>(qc.begin(), qc.end()), DType::F64);
    b.delta = random_tensor({6, 4}, DType::F64, 45, 0, 1);
    b.n_fail_split = 2;
    return b;
}

}  // namespace gpo::test
