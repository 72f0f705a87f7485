// The metrics log (io/jsonl_log.h): a torn last line left by a kill and the lines a resumed run will write again
// are dropped on reopen; a write to a full disk is an error naming the file and leaves no torn line.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "io/jsonl_log.h"
#include "tests/harness.h"

namespace fs = std::filesystem;
using gpo::io::JsonlLog;
using gpo::test::error_of;

using gpo::test::file_bytes;

TEST(JsonlLog, ReopenDropsTornLineAndRejectedLines) {
    const std::string p = (fs::path(GPO_BINARY_DIR) / "jsonl_repair.jsonl").string();
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        << "{\"type\":\"step\",\"step\":1}\n{\"type\":\"step\",\"step\":2}\n{\"type\":\"epoch\",\"epoch\":1}\n"
           "{\"type\":\"step\",\"step\":3}\n{\"type\":\"st";  // a kill in the middle of writing step 4
    {
        JsonlLog log(p, JsonlLog::Mode::Append, [](const nlohmann::json& j) { return j.value("step", 0) <= 2; });
        EXPECT_EQ(log.dropped_lines(), 1);  // the torn line
        log.write({{"type", "step"}, {"step", 3}});
    }
    EXPECT_EQ(file_bytes(p), "{\"type\":\"step\",\"step\":1}\n{\"type\":\"step\",\"step\":2}\n{\"type\":\"epoch\",\"epoch\":1}\n"
                           "{\"step\":3,\"type\":\"step\"}\n");
}

TEST(JsonlLog, FailedWriteIsAnErrorAndCutsBackToTheLastWholeLine) {
    const std::string p = (fs::path(GPO_BINARY_DIR) / "jsonl_full.jsonl").string();
    fs::remove(p);
    // A 4 KB file-size limit (with SIGXFSZ ignored, writes past it fail with EFBIG, as on a full disk).
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{4096, old.rlim_max};
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    std::string msg;
    {
        JsonlLog log(p, JsonlLog::Mode::Truncate);
        msg = error_of([&] {
            for (int i = 0; i < 1000; ++i) log.write({{"type", "step"}, {"step", i}, {"pad", std::string(50, 'x')}});
        });
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find("write failed"), std::string::npos) << msg;
    const std::string text = file_bytes(p);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');  // no torn last line
    EXPECT_LE(text.size(), 4096u);
}
