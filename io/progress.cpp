// Progress reporting (see progress.h).
#include "io/progress.h"

#include <unistd.h>

#include <cstdio>

namespace gpo::io {

Progress::Progress(std::string title)
    : title_(std::move(title)), tty_(isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()),
      last_print_(start_ - std::chrono::hours(1)) {}

std::string Progress::format_seconds(double s) {
    char buf[32];
    if (s < 0 || s > 1e7) return "--:--";
    int t = (int)(s + 0.5);
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
    return buf;
}

void Progress::update(int64_t done, int64_t total, const std::string& status) {
    auto now = std::chrono::steady_clock::now();
    double since_print = std::chrono::duration<double>(now - last_print_).count();
    bool last = done >= total;
    if (since_print < (tty_ ? 0.1 : 10.0) && !last) return;
    last_print_ = now;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double eta = done > 0 ? elapsed * (double)(total - done) / (double)done : -1;
    if (tty_) {
        const int width = 24;
        int filled = total > 0 ? (int)(width * done / total) : 0;
        std::string bar(filled, '#');
        bar.resize(width, '.');
        std::fprintf(stderr, "\r%s [%s] %lld/%lld %s  %s<%s  ", title_.c_str(), bar.c_str(), (long long)done,
                     (long long)total, status.c_str(), format_seconds(elapsed).c_str(), format_seconds(eta).c_str());
    } else {
        std::fprintf(stderr, "%s %lld/%lld %s elapsed %s eta %s\n", title_.c_str(), (long long)done, (long long)total,
                     status.c_str(), format_seconds(elapsed).c_str(), format_seconds(eta).c_str());
    }
    std::fflush(stderr);
}

void Progress::finish_line(const std::string& text) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
}

}  // namespace gpo::io
