// The forked read probe (see h5ad_probe.h).
#include "io/h5ad_probe.h"

#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>

#include "engine/check.h"
#include "io/hdf5_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define GPO_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GPO_UNDER_ASAN 1
#endif
#endif

namespace gpo::io {

namespace {

// Current virtual size of this process (bytes), from /proc/self/statm; 0 when unknown.
double virtual_bytes() {
    std::ifstream f("/proc/self/statm");
    double pages = 0;
    if (!(f >> pages)) return 0;
    return pages * (double)sysconf(_SC_PAGESIZE);
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n <= 0) return;
        off += (size_t)n;
    }
}

// True when `report` is a sanitizer report whose first frame outside the sanitizer's own interceptors is in
// libhdf5: a memory error of the library on a corrupt file (e.g. memcpy-param-overlap in H5HG_read), contained in
// the probe child. A report blaming any other code (the engine's reader) is not swallowed.
bool sanitizer_report_blames_hdf5(const std::string& report) {
    if (report.find("Sanitizer") == std::string::npos) return false;
    size_t at = 0;
    while ((at = report.find("    #", at)) != std::string::npos) {
        size_t end = report.find('\n', at);
        std::string frame = report.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at = end == std::string::npos ? report.size() : end;
        if (frame.find("libsanitizer") != std::string::npos || frame.find("__interceptor") != std::string::npos ||
            frame.find("libasan") != std::string::npos || frame.find("libubsan") != std::string::npos)
            continue;
        return frame.find("libhdf5") != std::string::npos;
    }
    return false;
}

[[noreturn]] void run_child(int fd, const std::string& path, const H5adReadOptions& opt, double max_bytes) {
#ifndef GPO_UNDER_ASAN
    // ASan reserves terabytes of shadow address space, so an address-space limit is only set without it (the
    // fuzz job bounds allocations with ASan's own max_allocation_size_mb instead).
    double limit = virtual_bytes() + max_bytes;
    rlimit rl{(rlim_t)limit, (rlim_t)limit};
    setrlimit(RLIMIT_AS, &rl);
#else
    (void)max_bytes;
#endif
    h5::probe::set_fd(fd);
    int code = 0;
    H5adReadOptions child_opt = opt;
    if (child_opt.X_blocks)  // the caller's sink must not run in this copy of the process: read and drop the blocks
        child_opt.X_blocks = [](const CsrMatrix&) {};
    try {
        h5ad_read_unprobed(path, child_opt);
    } catch (const Error& e) {
        write_all(fd, std::string("\x01") + e.what() + "\n");
        code = 3;
    } catch (const std::bad_alloc&) {
        write_all(fd, "\x02\n");
        code = 4;
    } catch (...) {
        write_all(fd, "\x01" + path + ": unexpected error while reading\n");
        code = 3;
    }
    _exit(code);  // no atexit handlers, no destructors: the parent owns everything
}

}  // namespace

void h5ad_probe(const std::string& path, const H5adReadOptions& opt, const ProbeLimits& limits) {
    std::error_code ec;
    const double size = std::filesystem::is_regular_file(path, ec) ? (double)std::filesystem::file_size(path, ec) : 0;
    const double seconds = limits.seconds > 0 ? limits.seconds : 30.0 + size / 20e6;
    const double max_bytes = limits.max_bytes > 0 ? limits.max_bytes : 2e9 + 64.0 * size;
    int fds[2];
    GPO_CHECK(pipe(fds) == 0, path << ": cannot create a pipe for the read probe: " << std::strerror(errno));
    // The child's stderr goes to a temporary file: a sanitizer's report of a crash inside libhdf5 is noise once the
    // crash is reported as an error, but any other report (a bug in the engine's own reader) is passed on below.
    FILE* child_err = std::tmpfile();
    std::fflush(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        GPO_FAIL(path << ": cannot fork the read probe: " << std::strerror(errno));
    }
    if (pid == 0) {
        // The child must not outlive the engine (a parent killed during a hanging read would leave it spinning).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(5);  // the parent died before the line above took effect
        close(fds[0]);
        if (child_err) dup2(fileno(child_err), 2);
        run_child(fds[1], path, opt, max_bytes);
    }
    close(fds[1]);
    // Collect the child's notes until it closes the pipe or the time is up.
    std::string notes;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    bool timed_out = false;
    char buf[4096];
    while (true) {
        double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int r = poll(&p, 1, (int)std::min(left * 1000.0, 1000.0) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        notes.append(buf, (size_t)n);
        if (notes.size() > (1u << 20)) notes.erase(0, notes.size() - (1u << 16));  // keep the tail only
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string err_text;
    if (child_err) {
        std::rewind(child_err);
        char b[4096];
        for (size_t n; (n = std::fread(b, 1, sizeof b, child_err)) > 0 && err_text.size() < (1u << 20);)
            err_text.append(b, n);
        std::fclose(child_err);
    }
    const bool hdf5_fault = sanitizer_report_blames_hdf5(err_text);
    if (!err_text.empty() && !hdf5_fault) std::fputs(err_text.c_str(), stderr);
    // The last complete note names the field being read.
    std::string last = "the file header", message;
    size_t start = 0;
    while (start < notes.size()) {
        size_t nl = notes.find('\n', start);
        if (nl == std::string::npos) break;
        std::string line = notes.substr(start, nl - start);
        if (!line.empty() && line[0] == '\x01') message = line.substr(1);
        else if (!line.empty() && line[0] == '\x02') message = "\x02";
        else if (!line.empty()) last = line;
        start = nl + 1;
    }
    if (timed_out)
        GPO_FAIL(path << ": corrupt file? HDF5 did not finish reading " << last << " within " << (int)seconds
                      << " s (the read was stopped)");
    if (hdf5_fault && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        GPO_FAIL(path << ": corrupt file: HDF5 crashed reading " << last
                      << " (a memory error inside libhdf5, caught in an isolated read; the engine itself did not crash)");
    if (WIFSIGNALED(status))
        GPO_FAIL(path << ": corrupt file: HDF5 crashed reading " << last << " (" << strsignal(WTERMSIG(status))
                      << " in an isolated read; the engine itself did not crash)");
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) return;
    if (code == 4 || message == "\x02")
        GPO_FAIL(path << ": corrupt file? reading " << last << " needs more than " << (long long)(max_bytes / 1e9)
                      << " GB of memory, more than a valid file of " << (long long)(size / 1e6)
                      << " MB can need");
    if (code == 3 && !message.empty()) throw Error(message);
    GPO_FAIL(path << ": the read probe failed (exit status " << code << ") while reading " << last);
}

}  // namespace gpo::io
