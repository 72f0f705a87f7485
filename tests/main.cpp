// GoogleTest main shared by gpo_tests and gpo_parity_tests. Prints whether a GPU is present; GPU-only tests skip
// with a reason unless GPO_REQUIRE_GPU=1, which turns those skips into failures (see tests/harness.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/device.h"
#include "kernels/cuda/runtime.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
