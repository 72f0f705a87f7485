// The gpo-engine binary under hostile input and a flaky machine: every command's --help lists exactly the
// options its code reads; bad numbers and choices are refused naming the option; errors carry no source
// location unless --verbose; a run folder is never overwritten; SIGINT/SIGTERM checkpoint and exit 128 + signal;
// SIGKILL at random moments followed by --resume leaves the same log and checkpoint as an uninterrupted run;
// a full disk (a file-size limit, which fails writes the same way) gives an error, no crash and no temp file;
// damaged or foreign checkpoints are refused by every command; grn and evaluate write nothing on bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/cli_harness.h"
#include "tests/harness.h"

namespace fs = std::filesystem;
using namespace gpo::test;

namespace {

std::string read_file(const fs::path& p) { return file_bytes(p.string()); }

std::vector<std::string> tmp_files_under(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it)
        if (it->path().extension() == ".tmp") out.push_back(it->path().string());
    return out;
}

// Trains the tiny model once per test process into `dir` and returns its best checkpoint.
std::string tiny_checkpoint(const fs::path& dir) {
    CliResult r = run_engine("train --config " + demo_config() + " --out " + dir.string() + " --device cpu" +
                             tiny_sets());
    EXPECT_EQ(r.code, 0) << r.output;
    return (dir / "checkpoints" / "best.ckpt").string();
}

// Starts gpo-engine with `args` (no shell) writing its output to `log`; returns the pid.
pid_t spawn_engine(const std::vector<std::string>& args, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
        FILE* f = std::freopen(log.c_str(), "a", stderr);
        (void)f;
        std::vector<char*> argv;
        std::string bin = engine_binary();
        argv.push_back(bin.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(bin.c_str(), argv.data());
        _exit(127);
    }
    return pid;
}

int wait_status(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream is(s);
    for (std::string w; is >> w;) out.push_back(w);
    return out;
}

}  // namespace

// ------------------------------------------------------------------------------------------------- --help
TEST(CliHelp, EveryCommandHelpListsExactlyTheOptionsItsCodeReads) {
    // The commands, as `gpo-engine help` lists them.
    CliResult h = run_engine("help");
    ASSERT_EQ(h.code, 0) << h.output;
    std::vector<std::string> names;
    std::istringstream is(h.output);
    bool in_list = false;
    for (std::string line; std::getline(is, line);) {
        if (line == "commands:") in_list = true;
        else if (in_list && line.size() > 2 && line[2] != ' ') names.push_back(split_words(line)[0]);
    }
    names.erase(std::remove(names.begin(), names.end(), "help"), names.end());
    ASSERT_GE(names.size(), 7u) << h.output;

    // The options each command's source reads (a.get/has/all/get_int/... calls), found by reading the code.
    const std::map<std::string, std::string> file_of = {
        {"info", "info.cpp"},         {"simulate", "simulate.cpp"}, {"preprocess", "train.cpp"},
        {"train", "train.cpp"},       {"evaluate", "evaluate.cpp"}, {"predict", "evaluate.cpp"},
        {"grn", "evaluate.cpp"}};
    const std::regex read_call(R"(a\.(?:get|has|all|get_int|get_real|get_choice)\("([a-z-]+)\")");
    for (const std::string& cmd : names) {
        SCOPED_TRACE(cmd);
        ASSERT_TRUE(file_of.count(cmd)) << "a new command: add its source file to this test";
        std::string src = read_file(fs::path(GPO_SOURCE_DIR) / "tools" / "cli" / file_of.at(cmd));
        size_t b = src.find("int cmd_" + cmd + "(");
        ASSERT_NE(b, std::string::npos);
        std::string body = src.substr(b, src.find("\n}\n", b) - b);
        if (body.find("load(a,") != std::string::npos) {  // the shared checkpoint loader of evaluate.cpp
            size_t l = src.find("load(const Args& a");
            body += src.substr(l, src.find("\n}\n", l) - l);
        }
        std::set<std::string> read;
        for (std::sregex_iterator it(body.begin(), body.end(), read_call), end; it != end; ++it)
            read.insert((*it)[1]);
        if (body.find("a.all(\"set\")") != std::string::npos) read.insert("set");

        CliResult r = run_engine(cmd + " --help");
        EXPECT_EQ(r.code, 0) << r.output;
        EXPECT_TRUE(contains(r.output, "usage: gpo-engine " + cmd)) << r.output;
        std::set<std::string> listed;
        const std::regex opt_line(R"(^  --([a-z-]+))");
        std::istringstream hs(r.output);
        for (std::string line; std::getline(hs, line);) {
            std::smatch m;
            if (std::regex_search(line, m, opt_line)) listed.insert(m[1]);
        }
        EXPECT_TRUE(listed.count("help") && listed.count("verbose")) << r.output;
        listed.erase("help");
        listed.erase("verbose");
        EXPECT_EQ(listed, read) << "options in --help vs options the code reads";
        // And each listed option is accepted by the parser: it moves on to the next word (an unknown option
        // after a valued one, or the stray '1' after a flag).
        for (const std::string& o : listed) {
            CliResult u = run_engine(cmd + " --" + o + " 1 --no-such-flag-x");
            EXPECT_EQ(u.code, 1) << u.output;
            EXPECT_TRUE(contains(u.output, "unknown option '--no-such-flag-x'") ||
                        contains(u.output, "unexpected argument '1'"))
                << u.output;
        }
    }
    EXPECT_EQ(run_engine("help train").code, 0);
}

// ------------------------------------------------------------------------------------------ numbers, choices
TEST(CliValues, BadNumbersAndChoicesAreRefusedNamingTheOption) {
    const std::string ck = " --checkpoint /nonexistent/best.ckpt";
    const std::string pred = "predict" + ck + " --perturbations IRF1 --out /nonexistent/p.h5ad";
    const std::string grn = "grn" + ck + " --out /nonexistent/grn";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {pred + " --cells abc", "--cells expects an integer"},
        {pred + " --particles 5x", "--particles expects an integer"},
        {pred + " --cells -5", "--cells expects an integer in [1, 10000000], got -5"},
        {pred + " --library -5", "--library expects a number"},
        {pred + " --seed 1.5", "--seed expects an integer"},
        {pred + " --cells 99999999999999999999999", "--cells expects an integer"},
        {grn + " --top-k -1", "--top-k expects an integer >= 1"},
        {grn + " --threshold 7", "--threshold expects a number in [0, 1]"},
        {grn + " --split bogus", "--split expects one of train|val|test|all, got 'bogus'"},
        {grn + " --random-sets 0", "--random-sets expects an integer"},
        {"train --config " + demo_config() + " --max-steps -5", "--max-steps expects an integer >= 1"},
        {"train --config " + demo_config() + " --device gpu", "--device expects one of auto|cpu|cuda"},
        {"simulate --out /nonexistent/x.h5ad --threads x", "--threads expects an integer"},
        {"simulate --out /nonexistent/x.h5ad --block-rows 0", "--block-rows expects an integer"},
        {"info --cells 3", "unknown option '--cells'"},
        {"train --config " + demo_config() + " --max-steps", "--max-steps needs a value"},
        {"train --config " + demo_config() + " --force=1", "takes no value"},
        {"train --config " + demo_config() + " --config x.json", "--config is given twice"},
        {"train stray-word", "unexpected argument 'stray-word'"},
    };
    for (const auto& [args, says] : cases) {
        CliResult r = run_engine(args);
        EXPECT_EQ(r.code, 1) << args << "\n" << r.output;
        EXPECT_TRUE(contains(r.output, says)) << args << "\n" << r.output;
    }
    // Raw bytes of a garbage value are escaped, never echoed.
    CliResult r = run_engine(pred + " --cells $'\\x01\\xff\\x1b[2J'");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "\\x01\\xff\\x1b")) << r.output;
    EXPECT_FALSE(contains(r.output, "\x1b")) << r.output;
    // The environment cap is parsed as strictly.
    r = run_shell("GPO_MAX_STEPS=ten " + engine_binary() + " train --config " + demo_config());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "GPO_MAX_STEPS")) << r.output;
}

TEST(CliErrors, SentencesWithoutSourceLocationUnlessVerbose) {
    CliResult r = run_engine("evaluate --checkpoint /nonexistent/best.ckpt");
    EXPECT_EQ(r.code, 1);
    EXPECT_FALSE(contains(r.output, ".cpp:")) << r.output;
    r = run_engine("evaluate --checkpoint /nonexistent/best.ckpt --verbose");
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(contains(r.output, "raised at") && contains(r.output, ".cpp:")) << r.output;
}

// ------------------------------------------------------------------------------------------------ run folders
TEST(CliTrain, ExistingRunFolderIsRefusedUnlessResumeOrForce) {
    fs::path dir = scratch_dir("refuse");
    const std::string base = "train --config " + demo_config() + " --out " + dir.string() + " --device cpu" +
                             tiny_sets() + " --max-steps 3";
    ASSERT_EQ(run_engine(base).code, 0);
    const std::string metrics_before = read_file(dir / "metrics.jsonl");
    const std::string ckpt_before = read_file(dir / "checkpoints" / "last.ckpt");
    CliResult r = run_engine(base);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "already holds a run") && contains(r.output, "--resume") &&
                contains(r.output, "--force"))
        << r.output;
    EXPECT_EQ(read_file(dir / "metrics.jsonl"), metrics_before);  // nothing appended or overwritten
    EXPECT_EQ(read_file(dir / "checkpoints" / "last.ckpt"), ckpt_before);
    r = run_engine(base + " --force");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(read_file(dir / "metrics.jsonl"), metrics_before);  // the same 3 steps again, not 6 lines
}

// ---------------------------------------------------------------------------------------------- signals, kills
TEST(CliTrain, SigintAndSigtermCheckpointAndExit128PlusSignal) {
    for (int sig : {SIGINT, SIGTERM}) {
        SCOPED_TRACE(sig);
        fs::path dir = scratch_dir("signal_" + std::to_string(sig));
        std::vector<std::string> args = split_words("train --config " + demo_config() + " --out " + dir.string() +
                                                    " --device cpu" + tiny_sets() +
                                                    " --set train.max_epochs=1000 --set train.log_every_steps=1");
        pid_t pid = spawn_engine(args, (dir / "log.txt").string());
        // Wait for the first logged step, then signal.
        for (int i = 0; i < 600 && read_file(dir / "metrics.jsonl").empty(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_FALSE(read_file(dir / "metrics.jsonl").empty()) << read_file(dir / "log.txt");
        kill(pid, sig);
        EXPECT_EQ(wait_status(pid), 128 + sig) << read_file(dir / "log.txt");
        EXPECT_TRUE(fs::exists(dir / "checkpoints" / "last.ckpt"));
        EXPECT_TRUE(tmp_files_under(dir).empty());
        EXPECT_TRUE(contains(read_file(dir / "log.txt"), "resume with --resume")) << read_file(dir / "log.txt");
    }
}

TEST(CliTrain, SigkillAtRandomMomentsThenResumeEqualsUninterruptedRun) {
    const std::string common = " --device cpu" + tiny_sets() +
                               " --set train.max_epochs=2 --set train.log_every_steps=1"
                               " --set train.checkpoint_every_steps=4";
    fs::path ref = scratch_dir("kill_reference");
    auto t0 = std::chrono::steady_clock::now();
    CliResult r = run_engine("train --config " + demo_config() + " --out " + ref.string() + common);
    ASSERT_EQ(r.code, 0) << r.output;
    const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    fs::path dir = scratch_dir("kill_victim");
    const std::string log = (dir / "log.txt").string();
    // Kill moments drawn from a fixed sequence spread over the run (a different moment each attempt); whatever
    // the moment, the resumed result must be identical.
    uint64_t s = 12345;
    int kills = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const double frac = 0.1 + 0.5 * (double)(s >> 11) / 9007199254740992.0;
        const bool have_ckpt = fs::exists(dir / "checkpoints" / "last.ckpt");
        std::string args = "train --config " + demo_config() + " --out " + dir.string() + common +
                           (have_ckpt ? " --resume " + (dir / "checkpoints" / "last.ckpt").string() : " --force");
        pid_t pid = spawn_engine(split_words(args), log);
        std::this_thread::sleep_for(std::chrono::duration<double>(frac * full_s));
        kill(pid, SIGKILL);
        const int st = wait_status(pid);
        if (st == 128 + SIGKILL) ++kills;
        else break;  // this attempt finished the run before the kill
    }
    EXPECT_GE(kills, 2) << "the run takes " << full_s << " s";
    // At least one restart continued from inside an epoch (a step-interval checkpoint, not an epoch end).
    const std::regex resumed(R"(resumed from \S+ at epoch \d+, step (\d+))");
    const std::string text = read_file(log);
    bool mid_epoch = false;
    for (std::sregex_iterator it(text.begin(), text.end(), resumed), end; it != end; ++it)
        mid_epoch = mid_epoch || std::stoi((*it)[1]) % 50 != 0;  // 50 steps per epoch at batch 256
    EXPECT_TRUE(mid_epoch) << text;
    r = run_engine("train --config " + demo_config() + " --out " + dir.string() + common + " --resume " +
                   (dir / "checkpoints" / "last.ckpt").string());
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(read_file(dir / "metrics.jsonl"), read_file(ref / "metrics.jsonl"));
    EXPECT_EQ(read_file(dir / "checkpoints" / "last.ckpt"), read_file(ref / "checkpoints" / "last.ckpt"));
    EXPECT_EQ(read_file(dir / "checkpoints" / "best.ckpt"), read_file(ref / "checkpoints" / "best.ckpt"));
    EXPECT_TRUE(tmp_files_under(dir).empty());
}

// ------------------------------------------------------------------------------------------------- full disk
// A file-size limit (ulimit -f, with SIGXFSZ ignored) makes writes fail with EFBIG the way a full disk fails
// them with ENOSPC, without root and without a special filesystem.
TEST(CliDiskFull, WritesFailWithAnErrorNoCrashNoTempFile) {
    fs::path dir = scratch_dir("diskfull");
    auto limited = [&](const std::string& args, int kb) {
        return run_shell("cd " + dir.string() + " && bash -c 'trap \"\" XFSZ; ulimit -f " + std::to_string(kb) +
                         "; exec " + engine_binary() + " " + args + "'");
    };
    CliResult r = limited("simulate --out " + (dir / "sim.h5ad").string(), 100);
    EXPECT_EQ(r.code, 1) << r.output;  // not 139 (SIGSEGV in HDF5's exit handler)
    EXPECT_TRUE(contains(r.output, "cannot write")) << r.output;
    EXPECT_FALSE(fs::exists(dir / "sim.h5ad"));
    EXPECT_TRUE(tmp_files_under(dir).empty());

    std::string ckpt = tiny_checkpoint(dir / "run");
    r = limited("predict --checkpoint " + ckpt + " --device cpu --perturbations IRF1,STAT1 --cells 2000"
                " --particles 4 --out " + (dir / "pred.h5ad").string(), 200);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_FALSE(fs::exists(dir / "pred.h5ad"));
    EXPECT_TRUE(tmp_files_under(dir).empty());

    // Training whose log or checkpoint cannot be written stops with the file named; nothing torn is left.
    fs::path tdir = dir / "train_full";
    r = limited("train --config " + demo_config() + " --out " + tdir.string() + " --device cpu" + tiny_sets() +
                    " --set train.log_every_steps=1",
                30);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "write failed") || contains(r.output, "cannot write")) << r.output;
    EXPECT_TRUE(tmp_files_under(tdir).empty());
    std::string m = read_file(tdir / "metrics.jsonl");
    EXPECT_TRUE(m.empty() || m.back() == '\n') << "torn last line";
}

// ------------------------------------------------------------------------------------------ bad checkpoints
TEST(CliCheckpoints, DamagedOrForeignCheckpointsAreRefusedByEveryCommand) {
    fs::path dir = scratch_dir("badckpt");
    std::string ckpt = tiny_checkpoint(dir / "run");
    std::string bytes = read_file(ckpt);
    // Another dataset with the same shapes: the stored identity no longer matches (same length, same offsets).
    std::string foreign = bytes;
    size_t at = foreign.find("\"dataset_identity\":\"");
    ASSERT_NE(at, std::string::npos);
    at += std::string("\"dataset_identity\":\"").size();
    for (int i = 0; i < 16; ++i) foreign[at + i] = foreign[at + i] == 'f' ? '0' : 'f';
    std::ofstream((dir / "foreign.ckpt").string(), std::ios::binary) << foreign;
    // A flipped bit in the first parameter tensor (right after the header; every command reads parameters).
    std::string flipped = bytes;
    uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | (unsigned char)bytes[i];
    flipped[8 + header + 3] ^= 0x10;
    std::ofstream((dir / "flipped.ckpt").string(), std::ios::binary) << flipped;

    const std::vector<std::pair<std::string, std::string>> which = {{"foreign.ckpt", "another dataset"},
                                                                   {"flipped.ckpt", "checksum"}};
    for (const auto& [file, says] : which) {
        const std::string c = (dir / file).string();
        SCOPED_TRACE(file);
        for (const std::string& cmd :
             {"evaluate --checkpoint " + c + " --out " + (dir / "eval").string(),
              "predict --checkpoint " + c + " --perturbations IRF1 --out " + (dir / "p.h5ad").string(),
              "grn --checkpoint " + c + " --out " + (dir / "grn").string(),
              "train --config " + demo_config() + tiny_sets() + " --out " + (dir / "run").string() +
                  " --resume " + c}) {
            CliResult r = run_engine(cmd + " --device cpu");
            EXPECT_EQ(r.code, 1) << cmd << "\n" << r.output;
            EXPECT_TRUE(contains(r.output, says)) << cmd << "\n" << r.output;
        }
        EXPECT_FALSE(fs::exists(dir / "eval"));
        EXPECT_FALSE(fs::exists(dir / "p.h5ad"));
        EXPECT_FALSE(fs::exists(dir / "grn"));
    }
}

TEST(CliGrn, BadReferenceIsReadBeforeAnyOutputIsWritten) {
    fs::path dir = scratch_dir("grn_badref");
    std::string ckpt = tiny_checkpoint(dir / "run");
    CliResult r = run_engine("grn --checkpoint " + ckpt + " --device cpu --out " + (dir / "grn").string() +
                             " --reference " + (dir / "no_such_network.tsv").string());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "no_such_network.tsv")) << r.output;
    EXPECT_FALSE(fs::exists(dir / "grn"));
}

TEST(CliData, MovedTrainingDataGivesAClearMessageAndDataPathOverrides) {
    fs::path dir = scratch_dir("moved_data");
    fs::copy_file(fs::path(GPO_SOURCE_DIR) / "data" / "papalexi2021_thp1_eccite.h5ad", dir / "cells.h5ad");
    // data.path relative to the working directory: the run must record it absolutely.
    CliResult r = run_shell("cd " + dir.string() + " && " + engine_binary() + " train --config " + demo_config() +
                  " --out run --device cpu" + tiny_sets() + " --set data.path=cells.h5ad --max-steps 2");
    ASSERT_EQ(r.code, 0) << r.output;
    const std::string ckpt = (dir / "run" / "checkpoints" / "last.ckpt").string();
    // From another directory: works, because the stored path is absolute.
    r = run_engine("predict --checkpoint " + ckpt + " --device cpu --perturbations IRF1 --particles 4 --out " +
                   (dir / "p.h5ad").string());
    EXPECT_EQ(r.code, 0) << r.output;
    fs::rename(dir / "cells.h5ad", dir / "moved.h5ad");
    r = run_engine("predict --checkpoint " + ckpt + " --device cpu --perturbations IRF1 --out " +
                   (dir / "p2.h5ad").string());
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "is not there") && contains(r.output, "--set data.path=")) << r.output;
    r = run_engine("predict --checkpoint " + ckpt + " --device cpu --perturbations IRF1 --particles 4 --out " +
                   (dir / "p2.h5ad").string() + " --set data.path=" + (dir / "moved.h5ad").string());
    EXPECT_EQ(r.code, 0) << r.output;
}

// ------------------------------------------------------------------------------------------------ determinism
// docs/robustness.md: on the CPU a run is bit-identical for the same config, seed and BLAS thread count; between
// thread counts OpenBLAS may split a GEMM's inner dimension differently, so the last bits of f32 sums differ.
TEST(CliDeterminism, BitIdenticalForTheSameThreadCountCloseAcrossThreadCounts) {
    auto losses = [](const std::string& name, int threads) {
        fs::path dir = scratch_dir(name);
        CliResult r = run_shell("OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " " + engine_binary() +
                                " train --config " + demo_config() + " --out " + dir.string() + " --device cpu" +
                                tiny_sets() + " --set train.log_every_steps=1 --max-steps 20");
        EXPECT_EQ(r.code, 0) << r.output;
        std::vector<double> out;
        std::istringstream is(read_file(dir / "metrics.jsonl"));
        for (std::string line; std::getline(is, line);) {
            size_t at = line.find("\"loss\":");
            if (at != std::string::npos) out.push_back(std::stod(line.substr(at + 7)));
        }
        return std::make_pair(out, read_file(dir / "checkpoints" / "last.ckpt"));
    };
    auto a = losses("det_1a", 1), b = losses("det_1b", 1), c = losses("det_2", 2), d = losses("det_2b", 2);
    ASSERT_EQ(a.first.size(), 20u);
    EXPECT_EQ(a.first, b.first);    // same threads: every loss bit-identical
    EXPECT_EQ(a.second, b.second);  // and the checkpoint byte for byte
    EXPECT_EQ(c.first, d.first);
    EXPECT_EQ(c.second, d.second);
    ASSERT_EQ(c.first.size(), 20u);
    // 1 vs 2 threads: f32 sums in another order differ by ~1e-7 relative per GEMM; 20 Adam steps of a tiny model
    // amplify that little. 1e-4 relative is three orders above the rounding and far below any real change.
    for (size_t i = 0; i < 20; ++i) EXPECT_NEAR(c.first[i], a.first[i], 1e-4 * std::abs(a.first[i])) << "step " << i;
}

TEST(CliInterrupt, SimulateInterruptedLeavesNoTemporaryFile) {
    fs::path dir = scratch_dir("simulate_sigint");
    const fs::path out = dir / "big.h5ad";
    pid_t pid = spawn_engine(split_words("simulate --out " + out.string() + " --threads 1 --set cells=400000"),
                             (dir / "log.txt").string());
    // Interrupt once the temporary file exists (the writer is under way).
    for (int i = 0; i < 400 && !fs::exists(out.string() + ".tmp"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ASSERT_TRUE(fs::exists(out.string() + ".tmp")) << read_file(dir / "log.txt");
    kill(pid, SIGINT);
    EXPECT_EQ(wait_status(pid), 128 + SIGINT);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(tmp_files_under(dir).empty());
}

TEST(CliInterrupt, ReadProbeDoesNotOutliveAKilledEngine) {
    // A read that hangs (a FIFO nobody writes) keeps the probe child waiting; killing the engine must take the
    // child with it (a fuzzer's timeout once left such a child spinning for an hour).
    fs::path dir = scratch_dir("probe_orphan");
    const std::string fifo = (dir / "never.h5ad").string();
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    pid_t pid = spawn_engine(split_words("preprocess --config " + demo_config() + " --set data.path=" + fifo +
                                         " --set preprocess.cache_dir=" + (dir / "cache").string()),
                             (dir / "log.txt").string());
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    kill(pid, SIGKILL);
    wait_status(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // Any live process whose command line names the FIFO is the orphaned probe (a forked child keeps the cmdline).
    int alive = 0;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmdline = read_file(e.path() / "cmdline"), stat = read_file(e.path() / "stat");
        size_t close_paren = stat.rfind(')');
        bool zombie = close_paren != std::string::npos && stat.size() > close_paren + 2 && stat[close_paren + 2] == 'Z';
        if (!zombie && cmdline.find(fifo) != std::string::npos) ++alive;
    }
    EXPECT_EQ(alive, 0);
    fs::remove(fifo);
}
